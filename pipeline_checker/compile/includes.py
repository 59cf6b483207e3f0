"""Template references and `extends:` (Microsoft's Templates doc): the file a reference names, its
parameters bound, and its body expanded where it is used; a mixin of `expand.Expander`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_checker.compile.directives import new_mapping
from pipeline_checker.compile.expressions import Scope
from pipeline_checker.compile.parameters import bind, declarations
from pipeline_checker.compile.templates import TEMPLATE
from pipeline_checker.findings import CheckError
from pipeline_checker.located import LDict, LList, UnknownText, located, where
from pipeline_checker.rules.schema import SCHEMA

MAX_DEPTH = 100  # Azure DevOps: at most 100 levels of template nesting


@dataclass(frozen=True)
class TemplateUse:
    """One template file read: its display name, how it was used (stages, jobs, steps, variables,
    extends) and its document as written (for the schema check of its top level)."""

    file: str
    kind: str
    doc: Any


class Includes:
    """Template inclusion for the Expander (which provides node, mapping, load, display, repos, findings)."""

    def include(self, item: dict, scope: Scope, path: Path, kind: str) -> LList:
        """The items a `template:` reference in a list of `kind` expands to."""
        item = self.reference(item, scope, path)
        reference = self.string(item["template"], scope) if isinstance(item["template"], str) else item["template"]
        empty = located([], *where(item))
        extra = sorted(str(k) for k in item if k not in ("template", "parameters"))
        if extra:
            self.findings.error(item, f"a template reference takes `template` and `parameters`, not "
                                      f"{', '.join(extra)}", SCHEMA)
        if not isinstance(reference, str) or isinstance(reference, UnknownText):
            self.findings.warning(item, f"not checked: the template name {reference!r} is not known offline")
            empty.incomplete = "a template whose name is not known offline"
            return empty
        passed = self.node(item.get("parameters") or {}, scope, path)
        including = self.paths.get(where(item["template"])[0], path)
        doc, target = self._template(reference, including, item, kind, empty)
        if doc is None:
            return empty
        shown = self.display(target)
        bound = bind(declarations(doc.get("parameters"), doc, self.findings), passed, shown, item, self.findings)
        self.depth += 1
        body = self.node(doc[kind], Scope(parameters=bound, variables=scope.variables), target, kind)
        self.depth -= 1
        self.templates.append(TemplateUse(shown, kind, doc))
        if kind == "variables" and isinstance(body, dict):
            body = located([located({"name": k, "value": v}, *where(body)) for k, v in body.items()], *where(body))
        return body if isinstance(body, list) else empty

    def _template(self, reference: str, including: Path, item: Any, kind: str,
                  empty: LList) -> tuple[Any, Path | None]:
        """(document, path) of a template used as a list of `kind`, or (None, None) after a finding."""
        target = self.repos.resolve(reference, including, item, self.findings, self.display,
                                    self.undecided[-1] if self.undecided else "")
        if target is None:
            empty.incomplete = f"template {reference} was not read"
            return None, None
        if self.depth >= MAX_DEPTH:
            self.findings.error(item, f"template {reference}: more than {MAX_DEPTH} levels of templates", TEMPLATE)
            return None, None
        try:
            doc = self.load(target)
        except CheckError as error:
            self.findings.add(error.finding)
            empty.incomplete = f"template {reference} could not be read"
            return None, None
        if not isinstance(doc, dict) or kind not in doc:
            self.findings.error(item, f"template {reference} is used as a list of {kind} but has no `{kind}:`",
                                TEMPLATE)
            empty.incomplete = f"template {reference} has no {kind}"
            return None, None
        return doc, target

    def extends(self, doc: LDict, scope: Scope, path: Path) -> LDict:
        """The pipeline `doc` with its `extends:` template expanded into it (nested extends too)."""
        spec = doc["extends"]
        merged = new_mapping(doc)
        for key, value in doc.items():
            if key != "extends":
                merged[key] = value
                merged.key_lines[key] = doc.key_lines.get(key, doc.line)
        if not isinstance(spec, dict) or not isinstance(spec.get("template"), str):
            self.findings.error(spec, "`extends:` needs `template:` (and optionally `parameters:`)", SCHEMA)
            return merged
        target = self.repos.resolve(spec["template"], path, spec, self.findings, self.display)
        if target is None:
            return self._unread_extends(merged, spec)
        try:
            template = self.load(target)
        except CheckError as error:
            self.findings.add(error.finding)
            return self._unread_extends(merged, spec)
        shown = self.display(target)
        bound = bind(declarations(template.get("parameters"), template, self.findings), spec.get("parameters"),
                     shown, spec, self.findings)
        inner = Scope(parameters=bound, variables=scope.variables)
        body = self.mapping(template, inner, target, skip=("parameters",))
        self.templates.append(TemplateUse(shown, "extends", template))
        if "extends" in body and self.depth < MAX_DEPTH:
            self.depth += 1
            body = self.extends(body, inner, target)
            self.depth -= 1
        for key, value in body.items():
            if key == "parameters":
                continue
            if key == "variables" and isinstance(merged.get(key), list) and isinstance(value, list):
                value = located([*merged[key], *value], *where(value))
            merged[key] = value
            merged.key_lines[key] = body.key_lines.get(key, body.line)
        return merged

    def _unread_extends(self, merged: LDict, spec: dict) -> LDict:
        """Best effort when the extends template cannot be read: the stages, jobs or steps passed to it
        as a parameter are checked as the pipeline's, with every list marked incomplete."""
        self.unread_extends = str(spec["template"])
        parameters = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
        for kind, keys in (("stages", ("stage",)), ("jobs", ("job", "deployment")),
                           ("steps", ("script", "bash", "pwsh", "powershell", "task", "checkout"))):
            for value in parameters.values():
                if isinstance(value, list) and any(isinstance(i, dict) and set(keys) & set(i) for i in value):
                    value.incomplete = f"the extends template {spec['template']} was not read"
                    merged[kind] = value
                    return merged
        return merged
