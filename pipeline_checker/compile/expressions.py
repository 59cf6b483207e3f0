"""Compile-time template expressions, `${{ ... }}`: parsing and evaluation over a scope.

Syntax, from Microsoft's Expressions doc: literals (booleans True/False in any case, numbers,
'single-quoted' strings with '' for a quote, versions such as 1.2.3), named values (`parameters`,
`variables` and the variables of `${{ each }}`), property access `a.b`, `a['b']`, `a[0]`, the
filtered array `a.*.b`, and function calls (`functions.py`), which may be indexed too
(`split(x, '/')[1]`). Property names and function names are case-insensitive; a missing property
is null.

The scope maps each named value to its value. `variables` is a `Variables` mapping: a name it does
not hold is `Unknown` (predefined variables, variable groups and variables set in the web UI are
known only to Azure DevOps), not null.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline_checker.compile import functions
from pipeline_checker.compile.values import ExpressionError, Unknown, Version, to_string, try_string
from pipeline_checker.located import UnknownText

TOKEN = re.compile(r"""\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[()\[\],*])|(?P<dot>\.(?![0-9]))
                       |(?P<number>[-.0-9][^\s()\[\],]*)|(?P<name>[A-Za-z_][^\s()\[\],.*]*))""", re.VERBOSE)


UNKNOWN_MARK = "<?>"  # what an unknown value looks like inside a string


class Variables(dict):
    """Compile-time variables, case-insensitive; a name not defined in the YAML is Unknown."""

    def __init__(self, values: Mapping | None = None, groups: tuple[str, ...] = ()):
        super().__init__()
        self.groups = groups
        for name, value in (values or {}).items():
            self[str(name).lower()] = (str(name), value)

    def lookup(self, name: str) -> Any:
        if name.lower() in self:
            return self[name.lower()][1]
        where = f"a variable group ({', '.join(self.groups)}), " if self.groups else ""
        return Unknown(f"variables['{name}'] is predefined or set outside the YAML ({where}the web UI) "
                       "and known only when the pipeline runs")

    def with_values(self, values: Mapping, groups: tuple[str, ...] = ()) -> Variables:
        merged = Variables(groups=self.groups + groups)
        dict.update(merged, self)
        for name, value in values.items():
            merged[str(name).lower()] = (str(name), value)
        return merged


@dataclass
class Scope:
    """What `${{ }}` can read: `parameters`, `variables` and each-loop names. `notes` collects warnings."""

    parameters: Mapping = field(default_factory=dict)
    variables: Variables = field(default_factory=Variables)
    names: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def bind(self, name: str, value: Any) -> Scope:
        return Scope(self.parameters, self.variables, {**self.names, name.lower(): value}, self.notes)


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if text.count(".") >= 2:
        if re.fullmatch(r"\d+(\.\d+){1,3}", text):
            return Version(tuple(int(p) for p in text.split(".")))
    elif re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)", text):
        return Decimal(text) if "." in text else int(text)
    raise ExpressionError(f"unrecognized value `{text}`")


def known(value: Any) -> Any:
    """A value read from the pipeline as the expression sees it: an unknown string is Unknown."""
    if isinstance(value, UnknownText):
        return value.unknown if str(value) == UNKNOWN_MARK and value.unknown else Unknown(value.reason)
    return value


def _member(value: Any, key: Any) -> Any:
    return known(_lookup(value, key))


def _lookup(value: Any, key: Any) -> Any:
    if isinstance(value, Unknown):
        return Unknown(value.reason)
    if isinstance(value, Variables):
        return value.lookup(to_string(key))
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
        text = try_string(key)
        folded = text.casefold() if text is not None else None
        return next((v for k, v in value.items() if str(k).casefold() == folded), None)
    if isinstance(value, list) and not isinstance(key, bool) and isinstance(key, (int, Decimal)):
        position = int(key)
        return value[position] if 0 <= position < len(value) else None
    return None


class _Parser:
    def __init__(self, text: str, scope: Scope):
        self.text, self.scope = text, scope
        self.tokens = self._tokenize(text)
        self.position = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, index = [], 0
        while text[index:].strip():
            match = TOKEN.match(text, index)
            if not match or match.end() == index:
                raise ExpressionError(f"cannot read `{text.strip()}` at {text[index:].strip()[:15]!r}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            index = match.end()
        return tokens

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            found = f"`{token[1]}`" if token else "the end"
            raise ExpressionError(f"cannot read `{self.text.strip()}`: expected `{value or 'a value'}`, found {found}")
        self.position += 1
        return token

    def parse(self) -> Any:
        value = self.expression()
        if self.peek() is not None:
            raise ExpressionError(f"cannot read `{self.text.strip()}`: unexpected `{self.peek()[1]}`")
        return value

    def expression(self) -> Any:
        kind, text = self.take()
        if kind in ("string", "number"):
            return self.accessors(_literal(kind, text))
        if kind != "name":
            raise ExpressionError(f"cannot read `{self.text.strip()}`: unexpected `{text}`")
        if self.peek() == ("punct", "("):
            return self.accessors(self.call(text))
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        if text.lower() == "null":
            return None
        return self.accessors(self.named(text))

    def named(self, name: str) -> Any:
        lower = name.lower()
        if lower in self.scope.names:
            return known(self.scope.names[lower])
        if lower == "parameters":
            return _Parameters(self.scope)
        if lower == "variables":
            return self.scope.variables
        reason = (f"`{name}` is not a value the checker knows at compile time "
                  "(it reads parameters, variables and each-loop names)")
        self.scope.notes.append(f"not checked: {reason}")
        return Unknown(reason)

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek() != ("punct", ")"):
            args.append(self.expression())
            if self.peek() != ("punct", ")"):
                self.take(",")
        self.take(")")
        return functions.call(name, [a.resolve() if isinstance(a, _Parameters) else a for a in args])

    def accessors(self, value: Any) -> Any:
        while self.peek() in (("dot", "."), ("punct", "[")):
            if self.take()[1] == ".":
                kind, key = self.take()
                if key == "*":
                    value = self.filtered(value)
                    continue
                if kind != "name":
                    raise ExpressionError(f"cannot read `{self.text.strip()}`: a property name must follow `.`")
            else:
                key = self.expression()
                key = key.resolve() if isinstance(key, _Parameters) else key
                self.take("]")
            value = value.member(key) if isinstance(value, _Parameters) else _member(value, key)
        return value.resolve() if isinstance(value, _Parameters) else value

    def filtered(self, value: Any) -> Any:
        items = list(value.values()) if isinstance(value, Mapping) else value if isinstance(value, list) else []
        if self.peek() != ("dot", "."):
            return items
        self.take(".")
        _, key = self.take()
        return [_member(item, key) for item in items]


class _Parameters:
    """`parameters` while being read: a name that is not declared is noted (it evaluates to null)."""

    def __init__(self, scope: Scope):
        self.scope = scope

    def member(self, key: Any) -> Any:
        value = _member(self.scope.parameters, key)
        names = {str(k).casefold() for k in self.scope.parameters}
        if value is None and str(key).casefold() not in names:
            self.scope.notes.append(f"parameters.{key} is not declared here, so it is empty "
                                    f"(declared: {', '.join(map(str, self.scope.parameters)) or 'none'})")
        return value

    def resolve(self) -> Any:
        return dict(self.scope.parameters)


def evaluate(text: str, scope: Scope) -> Any:
    """The value of the expression `text` (without `${{ }}`). Raises ExpressionError."""
    return _Parser(text, scope).parse()


def render(value: Any) -> str:
    """A value inserted into a string: its string conversion; arrays and objects cannot be inserted."""
    if isinstance(value, Unknown):
        return UNKNOWN_MARK
    text = try_string(value)
    if text is None:
        raise ExpressionError("an object or array cannot be inserted into a string")
    return text
