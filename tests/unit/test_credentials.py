"""credentialSource: generated credentials (pulumi-random) by default, or every one from the stack's
secret config, under mocks."""

from __future__ import annotations

import json

import pytest
from pulumi.runtime import rpc

from infra.offline import run_offline
from platform_components.validation import ArgError
from tests.unit.conftest import STACKS
from tests.unit.test_settings import settings_error
from tools.credentials import RANDOM_TYPES, needed_credentials


def configured_run(stack: str, values: dict[str, str]):
    return run_offline(stack, {"credentialSource": "config"}, secret_overrides={"credentials": json.dumps(values)})


def secret_data(run, name: str) -> dict:
    """A Secret's string_data as registered; it must be a Pulumi secret."""
    data = run.named("kubernetes:core/v1:Secret", name).inputs["stringData"]
    assert rpc.is_rpc_secret(data)
    return rpc.unwrap_rpc_secret(data)


@pytest.mark.parametrize("stack", STACKS)
def test_config_mode_takes_every_credential_from_config_and_generates_none(stack):
    needed = needed_credentials(stack)
    assert needed, "every stack has credentials"
    values = {name: f"value-of-{name}" for name in needed}
    run = configured_run(stack, values)
    assert not [r for r in run.resources if r.typ in RANDOM_TYPES]
    if stack == "dev":
        assert secret_data(run, "mlops-redis-auth")["password"] == values["mlops-redis-password"]


def test_generated_mode_is_the_default_and_generates_each_credential_once():
    run = run_offline("dev")
    names = [r.name for r in run.resources if r.typ in RANDOM_TYPES]
    assert len(names) == len(set(names)) == len(needed_credentials("dev"))


def test_a_missing_credential_fails_naming_its_key_and_how_to_set_it():
    values = {name: "x" * 32 for name in needed_credentials("dev")}
    del values["mlops-redis-password"]
    with pytest.raises(ArgError) as caught:
        configured_run("dev", values)
    assert "credentials.mlops-redis-password is not set" in str(caught.value)
    assert "pulumi config set --secret --path 'credentials.mlops-redis-password'" in str(caught.value)


def test_credentials_must_be_stored_encrypted():
    message = settings_error(credentials=json.dumps({"mlops-redis-password": "plain"}))
    assert "mlops-platform:credentials holds credentials and must be stored encrypted" in message


def test_an_unknown_credential_source_names_the_key():
    assert "mlops-platform:credentialSource must be one of generated, config, got 'vault'" in settings_error(
        credentialSource="vault")
