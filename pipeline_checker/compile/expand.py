"""Template expansion as Azure DevOps compiles a pipeline (Microsoft's "Templates" and "Template
expressions" docs: learn.microsoft.com/azure/devops/pipelines/process/templates and
.../template-expressions).

Read: `template:` items in `stages`, `jobs`, `steps` and `variables` lists and `extends:`
templates, nested too (`includes.py`, files found by `templates.Repositories`), declared parameters
(`parameters.py`), `${{ expression }}` in values and keys, `${{ if }}` / `${{ elseif }}` /
`${{ else }}` (`directives.py`),
`${{ each x in list-or-object }}`, `${{ insert }}`, and a list parameter inserted as one item
(`- ${{ parameters.steps }}`: "when an array is inserted into an array, the nested array is
flattened"). Compile-time `variables` come from `variables:` sections (`variables.py`).

What cannot be known offline is `Unknown`: an `${{ if }}` on it keeps every branch, marked as an
alternative (`LDict.alternative`, or `LDict.alternatives` for a mapping key two branches set), so
the later checks see each pipeline Azure DevOps may compile; an unknown value written into the
pipeline is an `UnknownText`; a list some of whose items could not be read (an `${{ each }}` over an
unknown, a template in another repository) carries the reason in `LList.incomplete`.
Runtime syntax (`$[ ]`, `$( )`) is left as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline_checker.compile import variables
from pipeline_checker.compile.directives import Chain, merge, new_mapping
from pipeline_checker.compile.expressions import UNKNOWN_MARK, Scope, evaluate, render
from pipeline_checker.compile.includes import MAX_DEPTH, Includes, TemplateUse
from pipeline_checker.compile.parameters import declarations, runtime_values
from pipeline_checker.compile.source import load
from pipeline_checker.compile.templates import Repositories
from pipeline_checker.compile.values import ExpressionError, Unknown
from pipeline_checker.findings import CheckError, Findings
from pipeline_checker.located import LDict, LList, LStr, UnknownText, located, unknown_text, where
from pipeline_checker.rules import Rule
from pipeline_checker.rules.schema import SCHEMA

EXPRESSION = Rule("expression", "A template expression (`${{ }}`) or directive cannot be evaluated: wrong syntax, an "
                                "unknown function, wrong arguments, a failed conversion.",
                  help_uri="https://learn.microsoft.com/azure/devops/pipelines/process/template-expressions")

WHOLE = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.DOTALL)
INLINE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
DIRECTIVE = re.compile(r"^\s*\$\{\{\s*(if|elseif|else|each|insert)\b(.*)\}\}\s*$", re.DOTALL)
EACH = re.compile(r"^\s*(\w+)\s+in\s+(.+)$", re.DOTALL)
LIST_KINDS = ("stages", "jobs", "steps", "variables")


@dataclass
class Expansion:
    pipeline: Any
    templates: list[TemplateUse] = field(default_factory=list)
    unread_extends: str = ""


class Expander(Includes):
    """Expands one pipeline file; problems go to `findings`."""

    def __init__(self, repositories: Repositories, findings: Findings):
        self.repos = repositories
        self.findings = findings
        self.paths: dict[str, Path] = {}
        self.documents: dict[str, Any] = {}
        self.templates: list[TemplateUse] = []
        self.depth = 0
        self.unread_extends = ""
        self.undecided: list[str] = []  # the undecidable `${{ if }}` conditions around what is expanded

    def display(self, path: Path) -> str:
        path = path.resolve()
        for alias, checkout in self.repos.checkouts.items():
            if path.is_relative_to(checkout):
                return f"{path.relative_to(checkout).as_posix()}@{alias}"
        try:
            return path.relative_to(self.repos.root).as_posix()
        except ValueError:
            return str(path)

    def load(self, path: Path) -> Any:
        """The document at `path`, parsed once per expansion (expansion never changes it)."""
        shown = self.display(path)
        self.paths[shown] = path.resolve()
        if shown not in self.documents:
            self.documents[shown] = load(path, shown)
        return self.documents[shown]

    def pipeline(self, path: Path) -> Expansion:
        """The expanded pipeline at `path`. Raises CheckError when the file itself cannot be read."""
        doc = self.load(path)
        if not isinstance(doc, dict):
            raise CheckError(doc, "a pipeline file must be a mapping", SCHEMA)
        declared = declarations(doc.get("parameters"), doc, self.findings)
        scope = Scope(parameters=runtime_values(declared, self.display(path), self.findings))
        expanded = self.mapping(doc, scope, path, skip=("parameters",))
        if "extends" in expanded:
            expanded = self.extends(expanded, scope, path)
        return Expansion(expanded, self.templates, self.unread_extends)

    # -- values --------------------------------------------------------------------------------
    def node(self, value: Any, scope: Scope, path: Path, kind: str | None = None) -> Any:
        if isinstance(value, dict):
            return self.mapping(value, scope, path)
        if isinstance(value, list):
            return self.sequence(value, scope, path, kind)
        if isinstance(value, str) and "${{" in value:
            result = self.string(value, scope)
            if isinstance(result, (dict, list)) and self.depth < MAX_DEPTH:
                self.depth += 1
                result = self.node(result, scope, path, kind)
                self.depth -= 1
            return result
        return value

    def string(self, text: str, scope: Scope) -> Any:
        """`text` with its `${{ }}` evaluated: a whole expression keeps its type (an object, a list, a
        boolean); expressions inside a longer string are converted to strings."""
        if "${{" not in text:
            return text
        file, line = where(text)
        try:
            whole = WHOLE.match(text)
            if whole and "${{" not in whole.group(1) and "}}" not in whole.group(1):
                return self._placed(evaluate(whole.group(1), scope), file, line)
            unknown = []

            def one(match: re.Match) -> str:
                value = evaluate(match.group(1), scope)
                if isinstance(value, Unknown):
                    unknown.append(value.reason)
                return render(value)

            result = INLINE.sub(one, text)
            return unknown_text(Unknown(unknown[0]), result, text) if unknown else located(result, file, line)
        except ExpressionError as error:
            self.findings.error(text, f"{error} (in `{text.strip()[:120]}`)", EXPRESSION)
            return unknown_text(Unknown(str(error)), text, text)
        finally:
            self._notes(scope, text)

    def _notes(self, scope: Scope, at: Any) -> None:
        while scope.notes:
            note = scope.notes.pop(0)
            self.findings.warning(at, note if note.startswith("not checked") else f"not checked: {note}")

    @staticmethod
    def _placed(value: Any, file: str, line: int) -> Any:
        if isinstance(value, Unknown):
            return unknown_text(value, UNKNOWN_MARK, located("", file, line))
        if isinstance(value, (LStr, LDict, LList)):
            return value  # a parameter's value keeps the place it was written, where a fix would go
        return located(value, file, line) if isinstance(value, (str, dict, list)) else value

    def mapping(self, value: dict, scope: Scope, path: Path, skip: tuple = ()) -> LDict:
        result = new_mapping(value)
        expanded_variables = None
        if isinstance(value.get("variables"), (dict, list)) and "variables" not in skip:
            expanded_variables = self.node(value["variables"], scope, path, "variables")
            scope = replace(scope, variables=variables.read(expanded_variables, scope.variables))
        chain = Chain()
        lines = getattr(value, "key_lines", None) or {}
        for key, item in value.items():
            directive = DIRECTIVE.match(key) if isinstance(key, str) else None
            if directive and key not in skip:
                for part, alternative in self.directive(directive, chain, item, scope, path, key):
                    if isinstance(part, dict):
                        merge(result, part, alternative)
                    elif part is not None:
                        self.findings.error(key, f"`{key.strip()}` inside a mapping must hold a mapping", EXPRESSION)
                continue
            chain.reset()
            if key in skip:
                new_key, new_value = key, item
            elif key == "variables" and expanded_variables is not None:
                new_key, new_value = key, expanded_variables
            else:
                new_key = self.string(key, scope) if isinstance(key, str) and "${{" in key else key
                new_value = self.node(item, scope, path, kind=key if key in LIST_KINDS else None)
            result[new_key] = new_value
            result.key_lines[new_key] = lines.get(key, result.line)
        return result

    def sequence(self, value: list, scope: Scope, path: Path, kind: str | None) -> LList:
        result = located([], *where(value))
        chain = Chain()
        for item in value:
            key = next(iter(item)) if isinstance(item, dict) and len(item) == 1 else None
            directive = DIRECTIVE.match(key) if isinstance(key, str) else None
            if directive:
                for part, alternative in self.directive(directive, chain, item[key], scope, path, key, kind, result):
                    self._extend(result, part if isinstance(part, list) else [part], alternative)
                continue
            chain.reset()
            if isinstance(item, str) and WHOLE.match(item) and "}}" not in WHOLE.match(item).group(1):
                self._insert(result, item, scope, path, kind)
            elif isinstance(item, dict) and "template" in item and kind in LIST_KINDS:
                self._extend(result, self.include(item, scope, path, kind), False)
            else:
                result.append(self.node(item, scope, path))
        return result

    def reference(self, item: dict, scope: Scope, path: Path) -> dict:
        """A template reference with its `${{ if }}` keys decided (dotnet/templating's
        `- template: x.yml` + `${{ if ... }}: {parameters: ...}`): the other keys as written."""
        if not any(isinstance(key, str) and DIRECTIVE.match(key) for key in item):
            return item
        result, chain = new_mapping(item), Chain()
        lines = getattr(item, "key_lines", None) or {}
        for key, value in item.items():
            directive = DIRECTIVE.match(key) if isinstance(key, str) else None
            if directive:
                for part, alternative in self.directive(directive, chain, value, scope, path, key):
                    if isinstance(part, dict):
                        merge(result, part, alternative)
                continue
            chain.reset()
            result[key] = value
            result.key_lines[key] = lines.get(key, result.line)
        return result

    @staticmethod
    def _extend(result: LList, items: list, alternative: bool) -> None:
        for item in items:
            if item is None:
                continue
            if alternative and isinstance(item, LDict):
                item.alternative = True
            result.append(item)
        if getattr(items, "incomplete", ""):
            result.incomplete = result.incomplete or items.incomplete

    def _insert(self, result: LList, item: str, scope: Scope, path: Path, kind: str | None) -> None:
        """`- ${{ expression }}` as a list item: a list is flattened into the list, a mapping is one item."""
        value = self.string(item, scope)
        if isinstance(value, UnknownText) and str(value) == UNKNOWN_MARK:
            self.findings.warning(item, f"not checked: the items `{item.strip()}` inserts ({value.reason})")
            result.incomplete = result.incomplete or f"`{item.strip()}` is unknown"
        elif isinstance(value, list):
            self._extend(result, self.sequence(value, scope, path, kind), False)
        elif isinstance(value, dict):
            self._extend(result, self.sequence([value], scope, path, kind), False)
        elif value is not None:
            result.append(value)

    # -- directives ----------------------------------------------------------------------------
    def directive(self, match: re.Match, chain: Chain, body: Any, scope: Scope, path: Path, key: str,
                  kind: str | None = None, into: LList | None = None) -> list[tuple[Any, bool]]:
        """The parts a directive contributes, each with whether it is an alternative."""
        word, rest = match.group(1), match.group(2).strip()
        if word in ("elseif", "else") and chain.state is None:
            self.findings.error(key, f"`${{{{ {word} }}}}` without a preceding `${{{{ if }}}}`", EXPRESSION)
            return []
        if word == "each":
            return [(part, False) for part in self._each(rest, body, scope, path, key, kind, into)]
        if word == "insert":
            return [(self.node(body, scope, path, kind), False)]
        evaluated = word == "if" or (word == "elseif" and chain.state != "taken")
        condition = self._condition(rest, scope, key) if evaluated else True
        include, alternative = chain.step(word, condition)
        if not include:
            return []
        if alternative:
            self.undecided.append(key.strip()[3:-2].strip() if word != "else" else "else")
        try:
            return [(self.node(body, scope, path, kind), alternative)]
        finally:
            if alternative:
                self.undecided.pop()

    def _condition(self, text: str, scope: Scope, key: str) -> Any:
        try:
            return evaluate(text, scope)
        except ExpressionError as error:
            self.findings.error(key, f"{error} (in `{key.strip()[:120]}`)", EXPRESSION)
            return False
        finally:
            self._notes(scope, key)

    def _each(self, rest: str, body: Any, scope: Scope, path: Path, key: str, kind: str | None,
              into: LList | None) -> list:
        each = EACH.match(rest)
        if not each:
            self.findings.error(key, f"cannot read `{key.strip()}`: expected `each NAME in EXPRESSION`", EXPRESSION)
            return []
        items = self._condition(each.group(2), scope, key)
        if isinstance(items, Unknown):
            self.findings.warning(key, f"not checked: what `{key.strip()}` produces ({items.reason})")
            if into is not None:
                into.incomplete = into.incomplete or f"`{key.strip()}` iterates over an unknown value"
            return []
        if isinstance(items, dict):
            items = [located({"key": k, "value": v}, *where(items)) for k, v in items.items()]
        if items is None:
            return []
        if not isinstance(items, list):
            self.findings.error(key, f"`{key.strip()}` iterates over a {type(items).__name__}, not a list or object",
                                EXPRESSION)
            return []
        return [self.node(body, scope.bind(each.group(1), item), path, kind) for item in items]
