"""The two facts about the stack's configuration that the Pulumi SDK keeps to its internals.

`pulumi.Config` answers "what is key K", but not "which keys did the stack set" (needed to reject
unknown keys, typos included) or "was K stored encrypted" (needed to refuse a credential in plain
text). Both come from `pulumi.runtime.config`, which is not a public API: this adapter is the only
place that touches it, so an SDK upgrade that moves them breaks one small module, loudly.
"""

from __future__ import annotations

from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret


def configured_keys(project: str) -> set[str]:
    """The names (without `project:`) of every key the stack sets in the project's namespace."""
    prefix = f"{project}:"
    return {key[len(prefix):] for key in {**get_config_env(), **CONFIG.get()} if key.startswith(prefix)}


def foreign_keys(project: str) -> set[str]:
    """Every key the stack sets outside the project's namespace, as written (`ns:name`, or a bare
    `name` when it has none)."""
    return {key for key in {**get_config_env(), **CONFIG.get()} if not key.startswith(f"{project}:")}


def is_secret(project: str, name: str) -> bool:
    """True when the stack stores `project:name` encrypted (`pulumi config set --secret`)."""
    return is_config_secret(f"{project}:{name}")
