"""The generic settings reader: any options class, typed by its annotations, errors under keys."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pytest

from infra.settings import PROJECT
from infra.stack_reader import StackReader
from platform_components.k8s import Resources
from platform_components.stack_keys import setting, setting_group
from platform_components.validation import ArgError, require_min


@dataclass(frozen=True)
class ExampleOptions:
    resources: Resources = setting_group("example")
    replicas: int = setting("exampleReplicas")
    enabled: bool = setting("exampleEnabled")
    host: str | None = setting("exampleHost")
    hosts: tuple[str, ...] = setting("exampleHosts")
    token: pulumi.Output[str] | None = setting("exampleToken", secret=True)
    label: str = "fixed"  # not a setting: keeps its default

    def __post_init__(self) -> None:
        require_min("replicas", self.replicas, 1)
        if self.enabled and self.host is None:
            raise ArgError("host", "must be set when enabled")


VALID = {"exampleCpuRequest": "100m", "exampleMemoryRequest": "64Mi", "exampleMemoryLimit": "128Mi",
         "exampleReplicas": "2", "exampleEnabled": "false", "exampleHost": "", "exampleHosts": '["a", "b"]',
         "exampleToken": ""}


def reader(secret_keys: tuple[str, ...] = (), **values: str) -> StackReader:
    config = {f"{PROJECT}:{key}": value for key, value in {**VALID, **values}.items()}
    pulumi.runtime.set_all_config(config, [f"{PROJECT}:{key}" for key in secret_keys])
    return StackReader(PROJECT, pulumi.Config(PROJECT))


def test_every_field_is_read_by_its_type_and_nested_groups_by_prefix():
    r = reader()
    options = r.read(ExampleOptions)
    assert options == ExampleOptions(Resources("100m", "64Mi", "128Mi"), 2, False, None, ("a", "b"), None)
    assert options.label == "fixed"
    assert r.errors == []
    assert r.read_keys == set(VALID)


def test_a_rejected_field_is_reported_under_its_key():
    r = reader(exampleReplicas="0")
    assert r.read(ExampleOptions) is None
    assert r.errors == [f"{PROJECT}:exampleReplicas must be >= 1, got 0"]


def test_a_rejected_nested_field_is_reported_under_the_prefixed_key():
    r = reader(exampleMemoryRequest="1Gi")
    assert r.read(ExampleOptions) is None
    assert r.errors == [f"{PROJECT}:exampleMemoryRequest must not exceed the memory limit (128Mi), got 1Gi"]


def test_every_problem_is_collected_not_only_the_first():
    r = reader(exampleReplicas="many", exampleHosts="oops", exampleCpuRequest="lots")
    assert r.read(ExampleOptions) is None
    assert len(r.errors) == 3
    assert any("exampleReplicas" in e and "not a valid 'int'" in e for e in r.errors)
    assert f"{PROJECT}:exampleCpuRequest must be a Kubernetes quantity" in " ".join(r.errors)


def test_a_list_setting_must_be_a_list_of_strings():
    r = reader(exampleHosts='{"a": 1}')
    r.read(ExampleOptions)
    (error,) = r.errors
    assert error.startswith(f"{PROJECT}:exampleHosts must be a list of strings, written in Pulumi.<stack>.yaml as")
    assert error.endswith("got {'a': 1}")


def test_a_cross_field_rule_names_the_field_it_blames():
    r = reader(exampleEnabled="true")
    r.read(ExampleOptions)
    assert r.errors == [f"{PROJECT}:exampleHost must be set when enabled"]


def test_a_secret_in_plain_text_is_refused_and_an_encrypted_one_read():
    r = reader(exampleToken="s3cret")
    assert r.read(ExampleOptions) is None
    assert "exampleToken holds a credential and must be stored encrypted" in r.errors[0]
    r = reader(secret_keys=("exampleToken",), exampleToken="s3cret")
    assert isinstance(r.read(ExampleOptions).token, pulumi.Output)


def test_given_values_fill_fields_the_stack_does_not_set():
    r = reader()
    options = r.read(ExampleOptions, given={"label": "given"})
    assert options.label == "given"


@pytest.fixture(autouse=True)
def _clean_config():
    yield
    pulumi.runtime.set_all_config({})
