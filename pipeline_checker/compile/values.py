"""Expression values and Azure DevOps' type conversions ("Type casting" in Microsoft's Expressions doc,
learn.microsoft.com/azure/devops/pipelines/process/expressions#type-casting).

Kinds: null (None), boolean (bool), number (int, float, Decimal), string (str), version
(`Version`), array (list), object (dict), and `Unknown`, a value the checker cannot know offline
(a predefined variable, a runtime parameter without a default), possibly with its candidates.

Conversions, as documented:
- to boolean: null -> False; number 0 -> False, else True; '' -> False, any other string -> True
  (so 'false' is True); version, array, object -> True.
- to number: False/True -> 0/1; null and '' -> 0; other strings parse as a decimal number with
  optional sign, decimal point, thousands separators and surrounding spaces, else not convertible.
- to string: False/True -> 'False'/'True'; null -> ''; numbers without exponent or trailing zeros
  (up to 7 decimals); versions as written; arrays and objects are not convertible.
- to version: a string or number with 2 to 4 numeric parts; nothing else.
- to null: null, and the empty string.
`equals` converts the right value to the left one's kind (False when that fails, so `ne` is True);
`compare` (gt, ge, lt, le) does the same but a failed conversion is an error. Strings compare
ordinally, ignoring case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


class ExpressionError(ValueError):
    """An expression Azure DevOps would refuse: bad syntax, wrong argument count, a failed conversion."""


@dataclass(frozen=True)
class Unknown:
    """A value that cannot be known offline. `candidates`: the values it may take, when finite."""

    reason: str
    candidates: tuple | None = None

    def __str__(self) -> str:
        return f"<{self.reason}>"


@dataclass(frozen=True, order=True)
class Version:
    parts: tuple[int, ...]

    def __str__(self) -> str:
        return ".".join(map(str, self.parts))


_NUMBER = re.compile(r"^\s*[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)\s*$")
_VERSION = re.compile(r"^\d+(?:\.\d+){1,3}$")


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, Version):
        return "version"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, Unknown):
        return "unknown"
    return "object"


def to_bool(value: Any) -> bool:
    k = kind(value)
    if k == "null":
        return False
    if k == "boolean":
        return value
    if k == "number":
        return value != 0
    if k == "string":
        return value != ""
    return True


def try_number(value: Any) -> Decimal | None:
    k = kind(value)
    if k == "boolean":
        return Decimal(int(value))
    if k == "null":
        return Decimal(0)
    if k == "number":
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    if k == "string":
        if value == "":
            return Decimal(0)
        if not _NUMBER.match(value):
            return None
        try:
            return Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            return None
    return None


def format_number(number: Decimal) -> str:
    """.NET's "0.#######": no exponent, at most 7 decimals, no trailing zeros."""
    text = f"{number.quantize(Decimal('0.0000001')):f}" if number != number.to_integral_value() else f"{number:.0f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def try_string(value: Any) -> str | None:
    k = kind(value)
    if k == "boolean":
        return "True" if value else "False"
    if k == "null":
        return ""
    if k == "number":
        return str(value) if hasattr(value, "text") and value.text else format_number(try_number(value))
    if k in ("string", "version"):
        return str(value)
    return None


def try_version(value: Any) -> Version | None:
    k = kind(value)
    if k == "version":
        return value
    if k in ("string", "number"):
        text = try_string(value) if k == "number" else value
        if _VERSION.match(text):
            return Version(tuple(int(p) for p in text.split(".")))
    return None


def to_string(value: Any) -> str:
    text = try_string(value)
    if text is None:
        raise ExpressionError(f"cannot convert {kind(value)} to a string")
    return text


def equals(left: Any, right: Any) -> bool:
    """`eq`: the right value converted to the left one's kind; False when it does not convert."""
    k = kind(left)
    if k == "boolean":
        return left == to_bool(right)
    if k == "number":
        number = try_number(right)
        return number is not None and try_number(left) == number
    if k == "version":
        return try_version(right) == left
    if k == "string":
        text = try_string(right)
        return text is not None and left.casefold() == text.casefold()
    if k in ("array", "object"):
        return left is right
    if k == "null":
        return right is None or right == ""
    return False


def compare(left: Any, right: Any) -> int:
    """gt/ge/lt/le: -1, 0 or 1; the right value converted to the left one's kind, an error if it does not convert."""
    k = kind(left)
    if k not in ("boolean", "number", "string", "version"):
        number = try_number(left)
        if number is None:
            raise ExpressionError(f"cannot compare {k}")
        left, k = number, "number"
    if k == "boolean":
        a, b = int(left), int(to_bool(right))
    elif k == "number":
        a, b = try_number(left), try_number(right)
    elif k == "version":
        a, b = left, try_version(right)
    else:
        text = try_string(right)
        a, b = left.casefold(), (text.casefold() if text is not None else None)
    if b is None:
        raise ExpressionError(f"cannot convert {kind(right)} {right!r} to a {k} to compare it with {left!r}")
    return (a > b) - (a < b)
