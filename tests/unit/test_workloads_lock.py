"""workloads/requirements.lock (what the image installs, --no-deps) agrees with the direct pins
in workloads/requirements.txt; tools/install/lock-workloads.sh regenerates it."""

from __future__ import annotations

import re
from pathlib import Path

WORKLOADS = Path(__file__).resolve().parents[2] / "workloads"
LEFT_OUT = {"mypy", "librt", "mypy-extensions"}  # Feast's SQLAlchemy[mypy]: a type checker, never imported


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", line).groups()
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_every_direct_pin_is_locked_at_its_version():
    locked = pins(WORKLOADS / "requirements.lock")
    direct = pins(WORKLOADS / "requirements.txt")
    assert {name: locked.get(name) for name in direct} == direct


def test_the_lock_leaves_out_only_the_type_checker():
    assert not LEFT_OUT & set(pins(WORKLOADS / "requirements.lock"))
    assert "feast" in pins(WORKLOADS / "requirements.lock") and "sqlalchemy" in pins(WORKLOADS / "requirements.lock")
