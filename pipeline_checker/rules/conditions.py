"""Conditions that do not test what they say: a string where a boolean is expected, and macro
syntax, which conditions do not expand.

From Microsoft's Expressions doc: "Variables are always strings"; a string converts to a boolean
as "'' (the empty string) -> False, any other string -> True"; `and`, `or`, `xor` and `not` "cast
parameters to Boolean"; `eq` and `ne` convert the right parameter to the left one's type. So in a
stage's, job's or step's `condition`:

- **condition-string**: a variable (`variables.isMain`, `variables['isMain']`, an output through
  `dependencies`/`stageDependencies`) or a quoted string where a boolean is expected (the whole
  condition, an argument of and/or/xor/not, the right side of `eq(true, ...)`) is true whenever it
  is not empty: `'False'` too, and `$[ eq(...) ]` variables hold exactly 'True' or 'False'. An
  error where the value is provably a non-empty string (a variable the YAML defines as text such
  as `false`, or as a `$[ ]` expression; a literal that reads as false, `'false'`: a literal
  `'true'` converts to True as written, so `eq(true, 'true')` is fine); a warning where the value
  is not known offline. The form that works: `eq(variables.isMain, true)` (or `'true'`).
- **condition-macro**: `$(var)` in a condition is not replaced (the agent parses the condition as
  it is; the Variables doc: macros are expanded "for task inputs"): unquoted, the condition is not
  an expression at all (Azure DevOps: "Unrecognized value: '$'"); quoted (`eq('$(var)', 'x')`),
  it compares the text `$(var)`. Both errors. A template parameter given `$(var)` and used as a
  condition (`condition: ${{ parameters.cnd }}`) is the usual way in, so the message says where
  the text came from. The form that works: `variables['var']`, or pass the parameter a boolean
  (`${{ variables.x }}` at compile time) or compare inside the template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline_checker.compile import variables as sections
from pipeline_checker.compile.expressions import TOKEN, UNKNOWN_MARK, Variables
from pipeline_checker.findings import Findings
from pipeline_checker.located import where
from pipeline_checker.model import Model
from pipeline_checker.rules import ERROR, WARNING, Rule

EXPRESSIONS_DOC = "https://learn.microsoft.com/azure/devops/pipelines/process/expressions#type-casting"
CONDITION_STRING = Rule("condition-string", "A condition uses a string (a variable, an output, a quoted literal) where "
                                            "a boolean is expected: any non-empty string is true, 'False' included, "
                                            "so the condition does not test the value.", help_uri=EXPRESSIONS_DOC)
CONDITION_MACRO = Rule("condition-macro", "A condition holds macro syntax `$(var)`, which conditions do not expand: "
                                          "unquoted it is not an expression, quoted it is the text `$(var)`.",
                       help_uri="https://learn.microsoft.com/azure/devops/pipelines/process/conditions")
MACRO = re.compile(r"(')?\$\(\s*([^)\s]+)\s*\)(')?")
BOOLEAN_ARGUMENTS = {"and", "or", "xor", "not"}
READS_FALSE = {"false", "0", "no", "n", "off"}  # non-empty, so True, though written as false


@dataclass(frozen=True)
class Node:
    kind: str  # "call", "ref" (a named value with accessors), "string", "boolean", "number", "null"
    text: str
    args: tuple[Node, ...] = ()


def check(model: Model, pipeline: Any, findings: Findings) -> None:
    variables = _variables(pipeline, Variables())
    for variants in model.stages.values():
        for stage in variants:
            scope = _variables(stage.spec, variables)
            _condition(stage.spec, f"stage {stage.name}", scope, findings)
            for jobs in stage.jobs.values():
                for job in jobs:
                    inner = _variables(job.spec, scope)
                    _condition(job.spec, f"job {job.name}", inner, findings)
                    for steps in job.hooks.values():
                        for position, step in enumerate(steps):
                            _condition(step.spec, f"step {step.name or f'#{position + 1}'} of job {job.name}",
                                       inner, findings)


def _variables(spec: Any, outer: Variables) -> Variables:
    """`outer` plus the `variables:` a pipeline, stage or job defines (compile/variables.py)."""
    return sections.read(spec.get("variables") if isinstance(spec, dict) else None, outer)


def _condition(spec: Any, who: str, variables: Variables, findings: Findings) -> None:
    if not isinstance(spec, dict) or not isinstance(spec.get("condition"), str):
        return
    text = spec["condition"]
    if UNKNOWN_MARK in text:
        return
    origin = _origin(text, spec)
    macros = list(MACRO.finditer(text))
    if macros:
        for match in macros:
            name = match.group(2)
            if match.group(1) and match.group(3):
                message = (f"{who}: the condition `{text.strip()[:120]}` compares the text '$({name})', not the "
                           f"variable's value: conditions do not expand macros; write variables['{name}']")
            else:
                message = (f"{who}: the condition `{text.strip()[:120]}` is not an expression: conditions do not "
                           f"expand macros, and Azure DevOps refuses `$(` (\"Unrecognized value: '$'\"); write "
                           f"eq(variables['{name}'], 'true') (or variables['{name}'] inside a comparison){origin}")
            findings.error(text, message, CONDITION_MACRO)
        return
    try:
        node = _Reader(text).read()
    except ValueError:
        return  # not an expression the checker reads (the schema and Azure DevOps judge it)
    for severity, message in _strings_as_booleans(node, variables, True):
        findings.report(text, severity, f"{who}: {message}", CONDITION_STRING)


def _origin(text: Any, spec: dict) -> str:
    """Where a condition's text was written, when not on the condition's own line (a template
    parameter's value)."""
    written = where(text)
    own = (getattr(spec, "file", "?"), (getattr(spec, "key_lines", None) or {}).get("condition", 0))
    if written[1] and written != own and own[1]:
        return (f"; the text comes from {written[0]}:{written[1]} (a template parameter given a macro passes the "
                "text `$(...)`, not the variable's value)")
    return ""


def _strings_as_booleans(node: Node, variables: Variables, boolean: bool) -> list[tuple[str, str]]:
    """(severity, message) for each string in a place that expects a boolean, at any depth."""
    problems: list[tuple[str, str]] = []
    if node.kind == "call":
        name = node.text.lower()
        for position, arg in enumerate(node.args):
            expects = name in BOOLEAN_ARGUMENTS or (name in ("eq", "ne") and position == 1
                                                    and node.args[0].kind == "boolean")
            problems += _strings_as_booleans(arg, variables, expects)
        return problems
    if not boolean:
        return problems
    if node.kind == "string":  # only a string that reads as false misleads: 'true' converts to True
        return [(ERROR, f"'{node.text}' is a non-empty string where a boolean is expected, so it is true; write "
                        f"{'false without quotes' if node.text.strip().lower() == 'false' else 'a comparison'}")] \
            if node.text.strip().lower() in READS_FALSE else []
    if node.kind != "ref":
        return problems
    reference = node.text
    name = _variable_name(reference)
    fix = f"compare it: eq({reference}, true)"
    if name is None:
        if reference.lower().startswith(("dependencies", "stagedependencies")):
            return [(WARNING, f"not checked: {reference} is a string (output variables are strings) where a boolean "
                              f"is expected: it is true whenever it is not empty, 'False' included; {fix}")]
        return problems
    value = variables[name.lower()][1] if name.lower() in variables else None
    text = _as_text(value)
    if text is not None and text:
        shown = "a $[ ] expression, which gives 'True' or 'False'" if text.lstrip().startswith("$[") else repr(text)
        return [(ERROR, f"{reference} is a string ({shown}) where a boolean is expected, so it is always true; {fix}")]
    return [(WARNING, f"not checked: {reference} is a string where a boolean is expected: it is true whenever it is "
                      f"not empty, 'False' included; {fix}")]


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return None if UNKNOWN_MARK in text else text


def _variable_name(reference: str) -> str | None:
    """`isMain` for variables.isMain or variables['isMain']; None for anything else."""
    match = re.fullmatch(r"variables\s*(?:\.\s*([\w.\-]+)|\[\s*'([^']+)'\s*\])", reference.strip(), re.IGNORECASE)
    return (match.group(1) or match.group(2)) if match else None


class _Reader:
    """Runtime expressions as a tree (the grammar of compile/expressions.py: literals, named values
    with `.name` / `['key']` accessors, function calls)."""

    def __init__(self, text: str):
        self.text, self.tokens, self.position = text, self._tokens(text), 0

    @staticmethod
    def _tokens(text: str) -> list[tuple[str, str]]:
        tokens, index = [], 0
        while text[index:].strip():
            match = TOKEN.match(text, index)
            if not match or match.end() == index:
                raise ValueError(text)
            tokens.append((match.lastgroup or "", match.group(match.lastgroup or 0)))
            index = match.end()
        return tokens

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise ValueError(self.text)
        self.position += 1
        return token

    def read(self) -> Node:
        node = self._expression()
        if self._peek() is not None:
            raise ValueError(self.text)
        return node

    def _expression(self) -> Node:
        kind, text = self._take()
        if kind == "string":
            return Node("string", text[1:-1].replace("''", "'"))
        if kind == "number":
            return Node("number", text)
        if kind != "name":
            raise ValueError(self.text)
        if self._peek() == ("punct", "("):
            self._take()
            args = []
            while self._peek() != ("punct", ")"):
                args.append(self._expression())
                if self._peek() == ("punct", ","):
                    self._take()
                elif self._peek() != ("punct", ")"):
                    raise ValueError(self.text)
            self._take()
            return Node("call", text, tuple(args))
        if text.lower() in ("true", "false"):
            return Node("boolean", text.lower())
        if text.lower() == "null":
            return Node("null", text)
        shown = text
        while self._peek() in (("dot", "."), ("punct", "[")):
            if self._take()[1] == ".":
                shown += "." + self._take()[1]
            else:
                key = self._expression()
                if self._take() != ("punct", "]"):
                    raise ValueError(self.text)
                shown += f"['{key.text}']" if key.kind == "string" else f"[{key.text}]"
        return Node("ref", shown)
