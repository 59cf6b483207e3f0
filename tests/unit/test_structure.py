"""The code's shape rules, checked on the source: small functions, components that follow the
component contract (class docstring, type token named after the class, declared outputs)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from infra.offline import ROOT

PROJECT_CODE = ("infra", "platform_components", "workloads", "tools", "pipelines")
MAX_FUNCTION_LINES = 80


def modules() -> list[Path]:
    return sorted(path for folder in PROJECT_CODE for path in (ROOT / folder).rglob("*.py"))


def components() -> list[tuple[Path, ast.ClassDef]]:
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(base) == "pulumi.ComponentResource"
                                                      for base in node.bases):
                found.append((path, node))
    return found


def test_no_function_is_longer_than_80_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, "\n".join(long)


def test_the_source_has_components_to_check():
    assert len(components()) >= 13


@pytest.mark.parametrize(("path", "component"), components(), ids=lambda value: getattr(value, "name", ""))
def test_a_component_has_a_docstring_and_a_type_token_named_after_it(path, component):
    assert ast.get_docstring(component), f"{component.name} has no class docstring"
    init = next(node for node in component.body if isinstance(node, ast.FunctionDef) and node.name == "__init__")
    super_call = next(node for node in ast.walk(init) if isinstance(node, ast.Call)
                      and ast.unparse(node.func) == "super().__init__")
    token = super_call.args[0].value
    assert token.rsplit(":", 1)[1] == component.name and token.split(":")[0] == "mlops", token
    assert [arg.arg for arg in init.args.args] == ["self", "name", "args", "opts"], component.name


@pytest.mark.parametrize(("path", "component"), components(), ids=lambda value: getattr(value, "name", ""))
def test_a_component_declares_every_public_attribute_it_sets(path, component):
    declared = {node.target.id for node in component.body if isinstance(node, ast.AnnAssign)}
    assigned = {
        target.attr
        for node in ast.walk(component)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        for target in (target.elts if isinstance(target, ast.Tuple) else [target])
        if isinstance(target, ast.Attribute) and ast.unparse(target.value) == "self" and not target.attr.startswith("_")
    }
    assert assigned <= declared, f"{component.name} sets undeclared {sorted(assigned - declared)}"
