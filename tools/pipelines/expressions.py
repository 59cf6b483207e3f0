"""Compile-time template expressions: `${{ ... }}` over `parameters`, literals and a few functions.

Only what templates commonly need is understood; anything else (compile-time `variables`, an
unknown function) raises ExpressionError, so the checker never guesses a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

TOKEN = re.compile(r"\s*(?:(?P<number>-?\d+(?:\.\d+)?)|(?P<string>'(?:[^']|'')*')|(?P<name>[A-Za-z_][\w-]*)"
                   r"|(?P<punct>[().,\[\]]))")


class ExpressionError(ValueError):
    pass


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"  # how Azure DevOps renders a boolean into a string
    if value is None:
        return ""
    return str(value)


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value != "" and value.lower() != "false"
    return bool(value)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()  # Azure DevOps compares strings ignoring case
    if isinstance(a, bool) or isinstance(b, bool):
        return truthy(a) == truthy(b)
    return a == b


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "eq": lambda a, b: _equal(a, b),
    "ne": lambda a, b: not _equal(a, b),
    "not": lambda a: not truthy(a),
    "and": lambda *args: all(truthy(a) for a in args),
    "or": lambda *args: any(truthy(a) for a in args),
    "in": lambda needle, *hay: any(_equal(needle, h) for h in hay),
    "notin": lambda needle, *hay: not any(_equal(needle, h) for h in hay),
    "startswith": lambda a, b: _text(a).lower().startswith(_text(b).lower()),
    "endswith": lambda a, b: _text(a).lower().endswith(_text(b).lower()),
    "contains": lambda a, b: _text(b).lower() in _text(a).lower(),
    "join": lambda separator, items: _text(separator).join(_text(i) for i in items),
    "coalesce": lambda *args: next((a for a in args if a not in (None, "")), ""),
    "length": lambda a: len(a),
    "lower": lambda a: _text(a).lower(),
    "upper": lambda a: _text(a).upper(),
}


class _Parser:
    def __init__(self, text: str, scope: Mapping[str, Any]):
        self.text, self.scope = text, scope
        self.tokens = self._tokenize(text)
        self.position = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, index = [], 0
        while index < len(text):
            if text[index:].strip() == "":
                break
            match = TOKEN.match(text, index)
            if not match:
                raise ExpressionError(f"cannot read `{text}` at {text[index:index + 10]!r}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            index = match.end()
        return tokens

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"cannot read `{self.text}`: expected {value or 'more'}")
        self.position += 1
        return token

    def parse(self) -> Any:
        value = self.expression()
        if self.peek() is not None:
            raise ExpressionError(f"cannot read `{self.text}`: unexpected {self.peek()[1]!r}")
        return value

    def expression(self) -> Any:
        kind, value = self.take()
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind != "name":
            raise ExpressionError(f"cannot read `{self.text}`: unexpected {value!r}")
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        if value.lower() == "null":
            return None
        if self.peek() == ("punct", "("):
            return self.call(value)
        if value not in self.scope:
            raise ExpressionError(
                f"`{value}` is not something the checker evaluates at compile time in `{self.text}` "
                f"(it understands: {', '.join(sorted(self.scope))}, literals and {', '.join(sorted(FUNCTIONS))})")
        return self.path(self.scope[value], value)

    def call(self, name: str) -> Any:
        function = FUNCTIONS.get(name.lower())
        if function is None:
            raise ExpressionError(f"function `{name}` in `{self.text}` is not supported by the checker "
                                  f"(supported: {', '.join(sorted(FUNCTIONS))})")
        self.take("(")
        args = []
        while self.peek() != ("punct", ")"):
            args.append(self.expression())
            if self.peek() == ("punct", ","):
                self.take(",")
        self.take(")")
        try:
            return function(*args)
        except TypeError as error:
            raise ExpressionError(f"`{name}` in `{self.text}`: {error}") from None

    def path(self, value: Any, shown: str) -> Any:
        while self.peek() in (("punct", "."), ("punct", "[")):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = self.expression()
                self.take("]")
            if not isinstance(value, Mapping) or key not in value:
                raise ExpressionError(f"`{shown}` has no `{key}` in `{self.text}`")
            value, shown = value[key], f"{shown}.{key}"
        return value


def evaluate(text: str, scope: Mapping[str, Any]) -> Any:
    return _Parser(text.strip(), scope).parse()


def render(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ExpressionError("an object or list cannot be inserted into a string")
    return _text(value)
