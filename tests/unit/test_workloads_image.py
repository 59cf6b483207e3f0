"""The workloads image definition: pinned base and requirements, non-root numeric user.

No Docker engine runs here, so the Dockerfile is checked statically; the code it ships is
exercised by the integration tests."""

from __future__ import annotations

import re

from infra.offline import ROOT

DOCKERFILE = (ROOT / "workloads" / "Dockerfile").read_text()


def test_base_image_is_a_pinned_slim_python():
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert re.fullmatch(r"docker\.io/library/python:3\.\d+\.\d+-slim-bookworm", base), base


def test_runs_as_a_numeric_non_root_user_with_group_zero():
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert users == ["10001:0"]


def test_requirements_are_pinned_exactly():
    lines = [line for line in (ROOT / "workloads" / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[0-9][0-9A-Za-z.]*", line) for line in lines), lines


def test_build_tools_stay_in_the_build_stage():
    final_stage = DOCKERFILE.split("\nFROM ${PYTHON_IMAGE}\n", 1)[1]
    assert "pip install" not in final_stage
    assert "COPY --from=build /install /usr/local" in final_stage


def test_the_postgres_client_matches_the_server_major_version():
    from platform_components import images

    assert f"postgresql-client-{images.POSTGRES_MAJOR}" in DOCKERFILE
