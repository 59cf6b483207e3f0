"""Manifest tier: render every committed stack offline once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.offline import available_stacks
from tools.synth import synth


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("synth")
    return {stack: synth(stack, out)[0] / "manifests" for stack in available_stacks()}
