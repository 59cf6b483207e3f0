"""The built-in expression functions, as Microsoft's Expressions doc defines them
(learn.microsoft.com/azure/devops/pipelines/process/expressions#functions), and how an unknown
argument flows through them.

`call(name, args)` applies one function to evaluated arguments. With an `Unknown` argument the
result is computed for every combination of candidates when they are finite (at most 64), else it
is `Unknown`, except where the known arguments decide alone (`and` with a False, `or` with a
True, `coalesce` with a non-empty value first). Job status functions (`succeeded()`, ...) and
`counter` exist only at run time: at compile time they are unknown.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pipeline_checker.compile.values import (
    ExpressionError,
    Unknown,
    compare,
    equals,
    kind,
    to_bool,
    to_string,
    try_string,
)

BOOLEAN = (True, False)
MAX_COMBINATIONS = 64
BOOLEAN_ARGUMENTS = ("and", "or", "not", "xor")


def _text(value: Any) -> str:
    return to_string(value)


def _join(separator: Any, items: Any) -> str:
    if isinstance(items, list):
        return to_string(separator).join(try_string(item) or "" for item in items)
    text = try_string(items)
    return "" if text is None else text


def _length(value: Any) -> int:
    if kind(value) not in ("string", "array", "object"):
        raise ExpressionError(f"length() takes a string, array or object, not a {kind(value)}")
    return len(value)


def _contains_value(collection: Any, value: Any) -> bool:
    items = collection.values() if isinstance(collection, dict) else collection if isinstance(collection, list) else []
    return any(equals(value, item) for item in items)


def _split(text: Any, delimiters: Any) -> list[str]:
    return to_string(text).split(to_string(delimiters)) if to_string(delimiters) else [to_string(text)]


def _format(template: Any, *args: Any) -> str:
    """.NET composite formatting: {0}, {1:spec}; {{ and }} are literal braces."""
    text, out, index = to_string(template), [], 0
    for match in re.finditer(r"\{\{|\}\}|\{(\d+)(?::[^}]*)?\}|[{}]", text):
        out.append(text[index:match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            out.append(token[0])
        elif match.group(1) is None:
            raise ExpressionError(f"format string {text!r} has an unmatched brace")
        else:
            position = int(match.group(1))
            if position >= len(args):
                raise ExpressionError(f"format string {text!r} uses {{{position}}} but has {len(args)} arguments")
            out.append(to_string(args[position]))
        index = match.end()
    return "".join(out) + text[index:]


def _to_json(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, (int, float, Decimal)):
            number = Decimal(str(v))
            return int(number) if number == number.to_integral_value() else float(number)
        return str(v)

    return json.dumps(plain(value), indent=2)


def _xor(a: Any, b: Any) -> bool:
    return to_bool(a) != to_bool(b)


# name (lower case) -> (documented name, min args, max args or None, implementation, result candidates)
FUNCTIONS: dict[str, tuple[str, int, int | None, Callable[..., Any], tuple | None]] = {
    f[0].lower(): f for f in (
        ("and", 2, None, lambda *a: all(to_bool(x) for x in a), BOOLEAN),
        ("coalesce", 2, None, lambda *a: next((x for x in a if x is not None and x != ""), None), None),
        ("contains", 2, 2, lambda a, b: _text(b).casefold() in _text(a).casefold(), BOOLEAN),
        ("containsValue", 2, 2, _contains_value, BOOLEAN),
        ("convertToJson", 1, 1, _to_json, None),
        ("endsWith", 2, 2, lambda a, b: _text(a).casefold().endswith(_text(b).casefold()), BOOLEAN),
        ("eq", 2, 2, equals, BOOLEAN),
        ("format", 1, None, _format, None),
        ("ge", 2, 2, lambda a, b: compare(a, b) >= 0, BOOLEAN),
        ("gt", 2, 2, lambda a, b: compare(a, b) > 0, BOOLEAN),
        ("iif", 3, 3, lambda c, a, b: a if to_bool(c) else b, None),
        ("in", 1, None, lambda a, *b: any(equals(a, x) for x in b), BOOLEAN),
        ("join", 2, 2, _join, None),
        ("le", 2, 2, lambda a, b: compare(a, b) <= 0, BOOLEAN),
        ("length", 1, 1, _length, None),
        ("lower", 1, 1, lambda a: _text(a).lower(), None),
        ("lt", 2, 2, lambda a, b: compare(a, b) < 0, BOOLEAN),
        ("ne", 2, 2, lambda a, b: not equals(a, b), BOOLEAN),
        ("not", 1, 1, lambda a: not to_bool(a), BOOLEAN),
        ("notIn", 1, None, lambda a, *b: not any(equals(a, x) for x in b), BOOLEAN),
        ("or", 2, None, lambda *a: any(to_bool(x) for x in a), BOOLEAN),
        ("replace", 3, 3, lambda a, b, c: _text(a).replace(_text(b), _text(c)) if _text(b) else _text(a), None),
        ("split", 2, 2, _split, None),
        ("startsWith", 2, 2, lambda a, b: _text(a).casefold().startswith(_text(b).casefold()), BOOLEAN),
        ("trim", 1, 1, lambda a: _text(a).strip(), None),
        ("upper", 1, 1, lambda a: _text(a).upper(), None),
        ("xor", 2, 2, _xor, BOOLEAN),
    )
}
RUNTIME_ONLY = {name.lower(): name for name in
                ("always", "canceled", "failed", "succeeded", "succeededOrFailed", "counter")}


def _decided_without_unknowns(name: str, args: list) -> tuple[bool, Any]:
    """(True, result) when the known arguments decide alone, as short-circuiting does."""
    known = [a for a in args if not isinstance(a, Unknown)]
    if name == "and" and any(not to_bool(a) for a in known):
        return True, False
    if name == "or" and any(to_bool(a) for a in known):
        return True, True
    if name == "coalesce":
        for a in args:
            if isinstance(a, Unknown):
                return False, None
            if a is not None and a != "":
                return True, a
    if name == "iif" and not isinstance(args[0], Unknown):
        return True, args[1] if to_bool(args[0]) else args[2]
    return False, None


def _over_candidates(name: str, implementation: Callable[..., Any], args: list) -> Any:
    unknowns = [a for a in args if isinstance(a, Unknown)]
    reason = unknowns[0].reason
    choices = [a.candidates if isinstance(a, Unknown) else (a,) for a in args]
    for position, choice in enumerate(choices):  # an argument read as a boolean can only be True or False
        if choice is None and (name in BOOLEAN_ARGUMENTS or (name == "iif" and position == 0)):
            choices[position] = BOOLEAN
    if any(c is None for c in choices) or _product_size(choices) > MAX_COMBINATIONS:
        return Unknown(reason, FUNCTIONS[name][4])
    results, first_error = [], None
    for combination in itertools.product(*choices):
        try:
            result = implementation(*combination)
        except ExpressionError as error:
            first_error = first_error or error
            continue
        if result not in results:
            results.append(result)
    if not results:
        raise first_error
    if len(results) == 1:
        return results[0]
    hashable = all(not isinstance(r, (list, dict)) for r in results)
    return Unknown(reason, tuple(results) if hashable else None)


def _product_size(choices: list) -> int:
    size = 1
    for choice in choices:
        size *= len(choice)
    return size


def call(name: str, args: list) -> Any:
    """Apply the function `name` (any case) to evaluated `args`. Raises ExpressionError for a wrong
    argument count or an unknown function."""
    key = name.lower()
    if key in RUNTIME_ONLY:
        return Unknown(f"{RUNTIME_ONLY[key]}() is known only when the pipeline runs",
                       None if key == "counter" else BOOLEAN)
    if key not in FUNCTIONS:
        raise ExpressionError(f"unrecognized function `{name}`")
    documented, minimum, maximum, implementation, _ = FUNCTIONS[key]
    if len(args) < minimum or (maximum is not None and len(args) > maximum):
        expected = f"{minimum}" if minimum == maximum else f"at least {minimum}" if maximum is None \
            else f"{minimum} to {maximum}"
        raise ExpressionError(f"{documented}() takes {expected} arguments, got {len(args)}")
    if not any(isinstance(a, Unknown) for a in args):
        return implementation(*args)
    decided, result = _decided_without_unknowns(key, args)
    if decided:
        return result
    return _over_candidates(key, implementation, args)
