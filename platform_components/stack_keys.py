"""Stack config keys, declared once, next to the option field each one sets.

An options dataclass marks a field read from the stack with `setting("mlflowReplicas")`, or a
nested options value with `setting_group("mlflow")` (its fields' keys are then relative:
`Resources.cpu_request` is `setting("CpuRequest")`, read as `mlflowCpuRequest`). The default
lives in Pulumi.yaml's `config:` block alone, so these fields have none. One generic reader
(infra/settings.py) builds any such class from the stack and reports a bad value under its key.
"""

from __future__ import annotations

from dataclasses import Field, field
from typing import Any

KEY = "stack_key"
PREFIX = "stack_key_prefix"
SECRET = "stack_key_secret"


def setting(key: str, *, secret: bool = False, shown: bool = True) -> Any:
    """A field set from the config key `key` (relative to its group's prefix, if any). A secret
    setting must be stored encrypted (`pulumi config set --secret`) and is read as an Output;
    `shown=False` keeps a plain value that holds credentials out of the class's repr."""
    return field(metadata={KEY: key, SECRET: secret}, repr=shown)


def setting_group(prefix: str = "") -> Any:
    """A nested options field whose own fields' keys are prefixed with `prefix`."""
    return field(metadata={PREFIX: prefix})


def full_key(prefix: str, key: str) -> str:
    """`("mlflow", "CpuRequest")` -> `mlflowCpuRequest`; `("", "CpuRequest")` -> `cpuRequest`."""
    return f"{prefix}{key[:1].upper()}{key[1:]}" if prefix else f"{key[:1].lower()}{key[1:]}"


def key_of(config_field: Field, prefix: str = "") -> str | None:
    """The full config key a dataclass field is read from, or None if the stack does not set it."""
    key = config_field.metadata.get(KEY)
    return full_key(prefix, key) if key else None
