"""What the checker checks, as rules: each a `Rule` owned by the module that checks it.

A rule has an id (what `--disable`, the inline `# pipeline-checker: disable=ID` comment and SARIF's
`ruleId` name it by), a one-line description of what it proves, its default severity and a help
URI (the Microsoft document the rule comes from). Findings are raised through their rule
(`findings.error(at, message, RULE)`), so each carries the id of the rule that found it; a rule's
warnings are what it could not decide offline, with the reason.

`all_rules()` is the registry: every rule of every module, in the order docs/pipelines.md lists
them. The modules are imported there, not here, so that a module defining a rule can import this
one without a circle.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

ERROR, WARNING = "error", "warning"
DOCS = "https://learn.microsoft.com/azure/devops/pipelines"

# The modules that own rules, in the order their rules are listed.
OWNERS = (
    "pipeline_checker.compile.source",
    "pipeline_checker.compile.templates",
    "pipeline_checker.compile.expand",
    "pipeline_checker.rules.schema",
    "pipeline_checker.rules.tasks",
    "pipeline_checker.model",
    "pipeline_checker.rules.dependencies",
    "pipeline_checker.rules.flow",
    "pipeline_checker.rules.same_job",
    "pipeline_checker.rules.conditions",
    "pipeline_checker.suppression",
    "pipeline_checker.findings",
)

_REGISTRY: dict[str, Rule] = {}


@dataclass(frozen=True)
class Rule:
    """One check. `severity` is its findings' default (a rule that proves problems reports
    errors, and warnings where it cannot decide)."""

    id: str
    description: str
    severity: str = ERROR
    help_uri: str = f"{DOCS}/yaml-schema/"

    def __post_init__(self) -> None:
        # The module that defines the rule (the caller of the dataclass' __init__) owns it.
        object.__setattr__(self, "owner", sys._getframe(2).f_globals.get("__name__", ""))
        known = _REGISTRY.get(self.id)
        if known is not None and known != self:
            raise ValueError(f"two rules with the id {self.id!r}")
        _REGISTRY[self.id] = self


def all_rules() -> list[Rule]:
    """Every rule, each once, in OWNERS' order."""
    for module in OWNERS:
        importlib.import_module(module)
    order = {module: index for index, module in enumerate(OWNERS)}
    return sorted(_REGISTRY.values(), key=lambda rule: order.get(rule.owner, len(order)))


def rule_ids() -> list[str]:
    return [rule.id for rule in all_rules()]
