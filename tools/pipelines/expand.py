"""Template expansion as Azure DevOps compiles a pipeline, for the constructs the checker knows.

`template:` items in `stages`, `jobs` and `steps` lists (paths relative to the including file),
their declared `parameters` (unknown, missing, wrongly typed or disallowed values are errors),
`${{ expression }}` in values and keys, and `${{ if }}` / `${{ elseif }}` / `${{ else }}` /
`${{ each x in list }}` in mappings and lists. Runtime syntax (`$[ ]`, `$( )`) is left as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.pipelines.expressions import ExpressionError, evaluate, render, truthy
from tools.pipelines.source import CheckError, LDict, LList, LStr, load, located, where

WHOLE = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.DOTALL)
INLINE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
DIRECTIVE = re.compile(r"^\s*\$\{\{\s*(if|elseif|else|each|insert)\b(.*)\}\}\s*$", re.DOTALL)
EACH = re.compile(r"^\s*(\w+)\s+in\s+(.+)$", re.DOTALL)
LIST_KINDS = ("stages", "jobs", "steps")
SCALAR_TYPES = {"string": (str, int, float, bool), "number": (int, float), "boolean": (bool,)}
LIST_TYPES = ("stepList", "jobList", "deploymentList", "stageList")


@dataclass(frozen=True)
class TemplateUse:
    """One inclusion of a template, expanded: what the schema check validates per template file."""

    file: str
    kind: str
    declared: Any
    body: Any
    at: Any


@dataclass
class Expansion:
    pipeline: Any
    templates: list[TemplateUse] = field(default_factory=list)


class Expander:
    def __init__(self, root: Path):
        self.root = root.resolve().parent
        self.templates: list[TemplateUse] = []

    def display(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def pipeline(self, path: Path) -> Expansion:
        doc = load(path, self.display(path))
        if not isinstance(doc, dict):
            raise CheckError(doc, "a pipeline file must be a mapping")
        if "extends" in doc:
            raise CheckError(doc, "`extends:` templates are not supported by the checker")
        parameters = {}
        for declared in self._declarations(doc.get("parameters"), doc):
            if "default" not in declared:
                raise CheckError(declared, f"runtime parameter {declared.get('name')!r} needs a default for an offline check")
            parameters[declared["name"]] = declared["default"]
        expanded = self.node(doc, {"parameters": parameters}, path, skip=("parameters",))
        return Expansion(expanded, self.templates)

    # -- values --------------------------------------------------------------------------------
    def node(self, value: Any, scope: dict, path: Path, kind: str | None = None, skip: tuple = ()) -> Any:
        if isinstance(value, dict):
            return self.mapping(value, scope, path, skip)
        if isinstance(value, list):
            return self.sequence(value, scope, path, kind)
        if isinstance(value, str):
            return self.string(value, scope)
        return value

    def string(self, text: str, scope: dict) -> Any:
        if "${{" not in text:
            return text
        file, line = where(text)
        try:
            whole = WHOLE.match(text)
            if whole and "${{" not in whole.group(1):
                value = evaluate(whole.group(1), scope)
                # A parameter's value keeps the place it was written, where a fix would go.
                return value if isinstance(value, (LStr, LDict, LList)) else located(value, file, line)
            return located(INLINE.sub(lambda m: render(evaluate(m.group(1), scope)), text), file, line)
        except ExpressionError as error:
            raise CheckError(text, str(error)) from None

    def mapping(self, value: dict, scope: dict, path: Path, skip: tuple = ()) -> LDict:
        result = located({}, *where(value))
        chain: bool | None = None  # None: no if-chain open; False: nothing taken yet; True: taken
        for key, item in value.items():
            if key in skip:
                result[key] = item
                continue
            directive = DIRECTIVE.match(key) if isinstance(key, str) else None
            if directive:
                parts, chain = self.directive(directive, chain, item, scope, path, key)
                for part in parts:
                    if not isinstance(part, dict):
                        raise CheckError(key, f"`{key.strip()}` inside a mapping must hold a mapping")
                    result.update(part)
                continue
            chain = None
            new_key = self.string(key, scope) if isinstance(key, str) else key
            result[new_key] = self.node(item, scope, path, kind=key if key in LIST_KINDS else None)
        return result

    def sequence(self, value: list, scope: dict, path: Path, kind: str | None) -> LList:
        result = located([], *where(value))
        chain: bool | None = None
        for item in value:
            directive = DIRECTIVE.match(next(iter(item))) if isinstance(item, dict) and len(item) == 1 \
                and isinstance(next(iter(item)), str) else None
            if directive:
                key = next(iter(item))
                parts, chain = self.directive(directive, chain, item[key], scope, path, key, kind)
                for part in parts:
                    if not isinstance(part, list):
                        raise CheckError(key, f"`{key.strip()}` inside a list must hold a list")
                    result.extend(part)
                continue
            chain = None
            if isinstance(item, dict) and "template" in item:
                result.extend(self.include(item, scope, path, kind))
            else:
                result.append(self.node(item, scope, path))
        return result

    def directive(self, match: re.Match, chain: bool | None, body: Any, scope: dict, path: Path, key: str,
                  kind: str | None = None) -> tuple[list, bool | None]:
        word, rest = match.group(1), match.group(2).strip()
        try:
            if word == "if":
                taken = truthy(evaluate(rest, scope))
                return ([self.node(body, scope, path, kind)] if taken else []), taken
            if word in ("elseif", "else") and chain is None:
                raise CheckError(key, f"`${{{{ {word} }}}}` without a preceding `${{{{ if }}}}`")
            if word == "elseif":
                taken = not chain and truthy(evaluate(rest, scope))
                return ([self.node(body, scope, path, kind)] if taken else []), chain or taken
            if word == "else":
                return ([self.node(body, scope, path, kind)] if not chain else []), None
            if word == "each":
                each = EACH.match(rest)
                if not each:
                    raise CheckError(key, f"cannot read `{key.strip()}`: expected `each NAME in EXPRESSION`")
                items = evaluate(each.group(2), scope)
                if isinstance(items, dict):
                    items = [{"key": k, "value": v} for k, v in items.items()]
                if not isinstance(items, list):
                    raise CheckError(key, f"`{key.strip()}` iterates over {type(items).__name__}, not a list or object")
                return [self.node(body, {**scope, each.group(1): item}, path, kind) for item in items], None
        except ExpressionError as error:
            raise CheckError(key, str(error)) from None
        raise CheckError(key, f"`${{{{ {word} }}}}` is not supported by the checker (it expands if, elseif, else, each)")

    # -- templates -----------------------------------------------------------------------------
    def include(self, item: dict, scope: dict, path: Path, kind: str | None) -> list:
        reference = self.string(item["template"], scope)
        if kind not in LIST_KINDS:
            raise CheckError(item, f"a template in {kind or 'this place'} is not supported by the checker "
                                   "(it expands stage, job and step templates)")
        if "@" in str(reference):
            raise CheckError(item, f"template {reference} lives in another repository: the checker reads local files only")
        extra = set(item) - {"template", "parameters"}
        if extra:
            raise CheckError(item, f"a template reference takes `template` and `parameters`, not {', '.join(sorted(extra))}")
        target = (path.parent / str(reference)).resolve()
        shown = self.display(target)
        if not target.is_file():
            raise CheckError(item, f"template {reference} not found (looked for {shown}, relative to {self.display(path)})")
        doc = load(target, shown)
        if not isinstance(doc, dict) or kind not in doc:
            raise CheckError(item, f"template {shown} is used as a list of {kind} but has no `{kind}:`")
        unexpected = set(doc) - {"parameters", kind}
        if unexpected:
            raise CheckError(doc, f"template {shown}: top-level {', '.join(sorted(unexpected))} not supported by the checker")
        passed = self.node(item.get("parameters") or {}, scope, path)
        parameters = self.bind(doc, passed, shown, item)
        body = self.node(doc[kind], {"parameters": parameters}, target, kind)
        self.templates.append(TemplateUse(shown, kind, doc.get("parameters"), body, item))
        return body

    def _declarations(self, declared: Any, at: Any) -> list[dict]:
        if declared is None:
            return []
        if isinstance(declared, dict):  # the old form: `name: default`
            return [located({"name": name, "default": default}, *where(declared)) for name, default in declared.items()]
        if not isinstance(declared, list) or not all(isinstance(d, dict) and "name" in d for d in declared):
            raise CheckError(declared or at, "`parameters:` must be a list of {name, type, default, values}")
        return declared

    def bind(self, doc: dict, passed: dict, shown: str, at: Any) -> dict:
        declarations = {d["name"]: d for d in self._declarations(doc.get("parameters"), doc)}
        for name in passed:
            if name not in declarations:
                raise CheckError(name if isinstance(name, LStr) else passed,
                                 f"template parameter {name!r} does not exist in {shown} "
                                         f"(it declares: {', '.join(declarations) or 'nothing'})")
        bound = {}
        for name, declaration in declarations.items():
            if name in passed:
                value = passed[name]
            elif "default" in declaration:
                value = declaration["default"]
            else:
                raise CheckError(at, f"template {shown} requires parameter {name!r}, which is not passed")
            self.check_type(name, declaration, value, shown, value if isinstance(value, LStr) else passed if name in passed else at)
            bound[name] = value
        return bound

    def check_type(self, name: str, declaration: dict, value: Any, shown: str, at: Any) -> None:
        kind = declaration.get("type", "string")
        runtime = isinstance(value, str) and ("$[" in value or "$(" in value)
        if kind in SCALAR_TYPES and not runtime and not isinstance(value, SCALAR_TYPES[kind]):
            raise CheckError(at, f"parameter {name!r} of {shown} is a {kind}, got {type(value).__name__}: {value!r}")
        if kind in LIST_TYPES and not isinstance(value, list):
            raise CheckError(at, f"parameter {name!r} of {shown} is a {kind}, got {type(value).__name__}")
        allowed = declaration.get("values")
        if allowed and not runtime and value not in allowed:
            raise CheckError(at, f"parameter {name!r} of {shown} must be one of {', '.join(map(str, allowed))}, got {value!r}")
