"""The README's config reference is the one generated from Pulumi.yaml."""

from __future__ import annotations

from infra.offline import ROOT
from tools.config_reference import render


def test_readme_config_reference_matches_pulumi_yaml():
    readme = (ROOT / "README.md").read_text()
    assert render(readme) == readme, "README config reference is stale: run `make config-docs`"
