"""One typed invocation per workload command: the seam between a component that runs a job and
the job's own command line.

A command's invocation is a frozen dataclass (`Invocation`) whose fields are its options: the
component builds it and calls `to_argv()` for the container's command; the workload's parser
takes its options from it (`add_arguments`: flags, defaults, help, types) and turns what it
parsed back into it (`from_args`). So a flag, its default and its type live in one place, and a
round trip `from_args(parse(to_argv()))` gives the same invocation (tested per job).

Fields map to flags as `snake_case` -> `--snake-case`: a `str`/`int`/`float` field takes a value;
a `bool` field is a switch (`store_true`); a `tuple[str, ...]` field repeats its flag (`append`);
a field whose value is None is left off the command line; a `remainder` field is what follows
`--` (another program's arguments). A field without a default is required. Help text, and a
different flag name, come from `option(help=..., flag=...)`.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar, Self


def option(default: Any = MISSING, *, help: str = "", flag: str | None = None,  # noqa: A002 - argparse's word
           remainder: bool = False) -> Any:
    """A field of an invocation: its default (none: required), help text and flag; `remainder`:
    a tuple of the arguments after `--`, passed on to another program as they are."""
    metadata = {"help": help, "flag": flag, "remainder": remainder}
    if isinstance(default, tuple):
        return field(default=default, metadata=metadata)
    return field(default=default, metadata=metadata) if default is not MISSING else field(metadata=metadata)


def _flag(spec: Field) -> str:
    return spec.metadata.get("flag") or "--" + spec.name.replace("_", "-")


def _kind(spec: Field) -> str:
    """"bool", "list", "int", "float" or "str", from the annotation (a string: annotations are
    postponed) and the default."""
    annotation = str(spec.type)
    if annotation == "bool":
        return "bool"
    if annotation.startswith("tuple"):
        return "list"
    for kind in ("int", "float"):
        if annotation in (kind, f"{kind} | None"):
            return kind
    return "str"


@dataclass(frozen=True)
class Invocation:
    """Base of every workload command's invocation (see the module's docstring)."""

    MODULE: ClassVar[str] = ""
    COMMAND: ClassVar[str] = ""

    def to_argv(self) -> list[str]:
        """["python", "-m", MODULE, COMMAND, --flag value, ...] in field order."""
        argv = ["python", "-m", self.MODULE, self.COMMAND]
        rest: list[str] = []
        for spec in fields(self):
            value, flag, kind = getattr(self, spec.name), _flag(spec), _kind(spec)
            if spec.metadata.get("remainder"):
                rest = ["--", *map(str, value)]
                continue
            if value is None or (kind == "bool" and not value):
                continue
            if kind == "bool":
                argv.append(flag)
            elif kind == "list":
                for item in value:
                    argv += [flag, str(item)]
            else:
                argv += [flag, str(value)]
        return argv + rest

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The command's options on `parser`, with the invocation's defaults."""
        for spec in fields(cls):
            kind, flag = _kind(spec), _flag(spec)
            kwargs: dict[str, Any] = {"dest": spec.name, "help": spec.metadata.get("help") or None}
            required = spec.default is MISSING and spec.default_factory is MISSING
            if spec.metadata.get("remainder"):
                parser.add_argument(spec.name, nargs=argparse.REMAINDER, help=kwargs["help"])
                continue
            if kind == "bool":
                parser.add_argument(flag, action="store_true", **kwargs)
                continue
            if kind == "list":
                parser.add_argument(flag, action="append", default=[], **kwargs)
                continue
            if kind in ("int", "float"):
                kwargs["type"] = int if kind == "int" else float
            if required:
                parser.add_argument(flag, required=True, **kwargs)
            else:
                parser.add_argument(flag, default=spec.default, **kwargs)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Self:
        """The invocation `args` (parsed by a parser `add_arguments` filled) stands for."""
        values = {}
        for spec in fields(cls):
            value = getattr(args, spec.name)
            if spec.metadata.get("remainder") and value[:1] == ["--"]:
                value = value[1:]
            values[spec.name] = tuple(value) if _kind(spec) == "list" else value
        return cls(**values)
