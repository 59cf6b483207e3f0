"""The generic stack-settings reader: builds any options dataclass from the stack's config.

A field declares its key with `setting(...)` or a nested group with `setting_group(...)`
(platform_components/stack_keys.py); the field's annotation says how to read it: `str`,
`str | None` (empty means unset), `int`, `bool`, `tuple[str, ...]`, a secret
`pulumi.Output[str] | None`, a secret map of names to strings `dict[str, str]`, or `tuple[<options class>, ...]`, a list whose entries are objects
(or bare names) read field by field, unset fields falling back to the stack keys
`<DEFAULTS_PREFIX><Key>`. The class validates itself; an `ArgError` is recorded under the key of
the field it names, and every problem of every class is collected before anything is raised.
"""

from __future__ import annotations

import difflib
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import pulumi

from infra import pulumi_config
from platform_components import stack_keys
from platform_components.validation import ArgError

T = TypeVar("T")
SCALARS = {str: "a string", int: "an integer", bool: "true or false"}


def key_prefix(cls: type, prefix: str | None) -> str:
    """The prefix of `cls`'s relative keys: the given one, else the class's KEY_PREFIX (or none)."""
    return prefix if prefix is not None else getattr(cls, "KEY_PREFIX", "")


def entry_class(hint: Any) -> type | None:
    """X for a `tuple[X, ...]` annotation whose X is an options dataclass, else None."""
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis and is_dataclass(args[0]):
            return args[0]
    return None


def keyed_fields(cls: type, prefix: str | None = None) -> dict[str, Any]:
    """Config key -> the Python type of the field it sets, over `cls` and its setting groups
    (a list of entries contributes its own key and its entries' `DEFAULTS_PREFIX` keys)."""
    hints, keys, prefix = get_type_hints(cls), {}, key_prefix(cls, prefix)
    for field in fields(cls):
        hint = hints[field.name]
        if stack_keys.PREFIX in field.metadata:
            keys.update(keyed_fields(hint, stack_keys.full_key(prefix, field.metadata[stack_keys.PREFIX])))
        elif (key := stack_keys.key_of(field, prefix)) is not None:
            keys[key] = hint
            if (entry := entry_class(hint)) is not None:
                defaults = keyed_fields(entry, entry.DEFAULTS_PREFIX)
                keys.update({k: t for k, t in defaults.items() if k != stack_keys.full_key(entry.DEFAULTS_PREFIX, "name")})
    return keys


class StackReader:
    """Reads options classes from the project's config namespace, remembering which keys were read
    and every problem found (`errors`, one line each, naming the key)."""

    def __init__(self, project: str, config: pulumi.Config | None = None) -> None:
        self.project = project
        self.config = config or pulumi.Config(project)
        self.read_keys: set[str] = set()
        self.errors: list[str] = []

    def key(self, name: str) -> str:
        return f"{self.project}:{name}"

    def read(self, cls: type[T], prefix: str | None = None, *, given: dict[str, Any] | None = None,
             entry: dict | None = None, label: str | None = None) -> T | None:
        """An instance of `cls` from its keyed fields (plus `given` values for the others), or None
        when a value is missing, mistyped or rejected by the class (the problem is recorded).
        Relative keys are prefixed with `prefix`, by default the class's KEY_PREFIX. With `entry`
        (one object of a list setting, reported as `label`) keys are looked up there first."""
        hints, prefix = get_type_hints(cls), key_prefix(cls, prefix)
        given = given or {}
        values, failed = dict(given), set()
        for field in fields(cls):
            if field.name in given:
                continue
            if stack_keys.PREFIX in field.metadata:
                group = stack_keys.full_key(prefix, field.metadata[stack_keys.PREFIX])
                values[field.name] = self.read(hints[field.name], group, entry=entry, label=label)
                if values[field.name] is None:
                    failed.add(field.name)
            elif (key := stack_keys.key_of(field, prefix)) is not None:
                try:
                    values[field.name] = self._field(key, hints[field.name], field, entry)
                except (pulumi.ConfigTypeError, pulumi.ConfigMissingError, ArgError, _Reported) as error:
                    if not isinstance(error, _Reported):
                        self.errors.append(self._problem(field, prefix, label, error))
                    values[field.name] = None
                    failed.add(field.name)
        return self._build(cls, prefix, values, failed, label)

    def _build(self, cls: type[T], prefix: str, values: dict[str, Any], failed: set[str], label: str | None) -> T | None:
        """`cls(**values)`, with an ArgError reported under the failing field's key. With fields
        that failed already, the class still checks the others (so every problem is reported at
        once), but nothing is returned."""
        try:
            built = cls(**values)
        except ArgError as error:
            if error.field not in failed:
                field = next((f for f in fields(cls) if f.name == error.field), None)
                self.errors.append(self._problem(field, prefix, label, error))
            return None
        except (TypeError, AttributeError, ValueError):
            if failed:  # a check tripped over a field that failed already: reported above
                return None
            raise
        return None if failed else built

    def _problem(self, field, prefix: str, label: str | None, error: Exception) -> str:
        """`<project>:<key> <message>`, or `<project>:<list>[i] (name).<entry key> <message>`."""
        if isinstance(error, (pulumi.ConfigTypeError, pulumi.ConfigMissingError)):
            return str(error)
        message = error.message if isinstance(error, ArgError) else str(error)
        if field is None or stack_keys.KEY not in field.metadata:
            where = self.key(label or (error.field if isinstance(error, ArgError) else "?"))
        elif label:
            where = f"{self.key(label)}.{stack_keys.full_key('', field.metadata[stack_keys.KEY])}"
        else:
            where = self.key(stack_keys.key_of(field, prefix))
        return f"{where} {message}"

    def _field(self, key: str, hint: Any, field, entry: dict | None) -> Any:
        """From the list entry when it sets the field, else from the stack key."""
        if entry is not None:
            name = stack_keys.full_key("", field.metadata[stack_keys.KEY])
            if name in entry:
                return _typed(entry[name], hint, name)
        return self._value(key, hint, field.metadata.get(stack_keys.SECRET, False))

    def _value(self, key: str, hint: Any, secret: bool) -> Any:
        self.read_keys.add(key)
        if secret and hint == dict[str, str]:
            return self._secret_map(key)
        if secret:
            return self._secret(key)
        if (entry := entry_class(hint)) is not None:
            return self._entries(key, entry)
        if hint is bool:
            return self.config.require_bool(key)
        if hint is int:
            return self.config.require_int(key)
        if hint == tuple[str, ...]:
            return _typed(self._list(key, "strings"), hint, key)
        if hint == dict[str, str]:
            return self._map(key)
        if hint == str | None:
            return self.config.require(key) or None
        if hint is str:
            return self.config.require(key)
        raise TypeError(f"{key}: no reader for fields of type {hint}")

    def _entries(self, key: str, entry_cls: type) -> tuple[Any, ...]:
        """A list setting: each item a bare name or an object with the entry class's keys."""
        value = self._list(key, "names or objects with a name")
        allowed = entry_keys(entry_cls)
        entries, complete = [], True
        for index, item in enumerate(value):
            item = {"name": item} if isinstance(item, str) else item
            label = f"{key}[{index}]" + (f" ({item['name']})" if isinstance(item, dict) and "name" in item else "")
            if not isinstance(item, dict) or "name" not in item:
                raise ArgError(key, f"[{index}] must be a name or an object with a name, got {item!r}")
            unknown = sorted(set(item) - allowed)
            if unknown:
                self.errors.append(f"{self.key(label)} has unknown keys {unknown}; allowed: {sorted(allowed)}")
                complete = False
                continue
            built = self.read(entry_cls, entry_cls.DEFAULTS_PREFIX, entry=item, label=label)
            complete = complete and built is not None
            entries.append(built)
        if not complete:
            raise _Reported()
        return tuple(entries)

    def _list(self, key: str, items: str) -> list[Any]:
        """A list setting's value, or an ArgError that shows the form it takes in the stack file
        (Pulumi's own message for a scalar, "is not a valid 'JSON object'", names neither)."""
        form = (f"a list of {items}, written in Pulumi.<stack>.yaml as\n    {self.key(key)}:\n      - first\n"
                f"      - second\n  or `pulumi config set --path '{self.key(key)}[0]' first`")
        try:
            value = self.config.require_object(key)
        except pulumi.ConfigTypeError:
            raise ArgError(key, f"must be {form}; got {self.config.get(key)!r}") from None
        if not isinstance(value, list):
            raise ArgError(key, f"must be {form}; got {value!r}")
        return value

    def _secret(self, key: str) -> pulumi.Output[str] | None:
        if not self.config.get(key):
            return None
        if not pulumi_config.is_secret(self.project, key):
            raise ArgError(key, f"holds a credential and must be stored encrypted: pulumi config set --secret {key} ...")
        return self.config.require_secret(key)

    def _map(self, key: str) -> dict[str, str]:
        """A plain object setting of names to strings (labels, say)."""
        value = self.config.get_object(key) or {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ArgError(key, f"must map names to strings, written in Pulumi.<stack>.yaml as\n    {self.key(key)}:\n"
                                f"      name: value\n  got {value!r}")
        return value

    def _secret_map(self, key: str) -> dict[str, str]:
        """An object setting of names to credentials (`pulumi config set --secret --path '<key>.<name>' ...`)."""
        value = self.config.get_object(key) or {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ArgError(key, f"must map names to strings, set with pulumi config set --secret --path '{key}.<name>' ...")
        if value and not pulumi_config.is_secret(self.project, key):
            raise ArgError(key, f"holds credentials and must be stored encrypted: pulumi config set --secret --path '{key}.<name>' ...")
        return value

    def unknown_keys(self, declared: list[str]) -> list[str]:
        """A line for each key the stack sets in the project's namespace that `declared` lacks,
        and for each key that was meant for it but is not in it: a namespace close to the project's
        (`mlops-platfrom:key`, difflib's similarity at least 0.8), or none at all. Other namespaces
        (`kubernetes:`, `azure-native:`, ...) belong to providers and are left alone."""
        problems = []
        for key in sorted(pulumi_config.foreign_keys(self.project)):
            namespace, _, name = key.rpartition(":")
            if not namespace:
                problems.append(f"{key!r} has no namespace, so nothing reads it; write {self.key(name)}")
            elif difflib.get_close_matches(namespace, [self.project], cutoff=0.8):
                problems.append(f"{key} is in namespace {namespace!r}, which nothing reads; did you mean {self.key(name)}?")
        for name in sorted(pulumi_config.configured_keys(self.project) - set(declared)):
            hint = difflib.get_close_matches(name, declared, n=1)
            suggestion = f"; did you mean {self.key(hint[0])}?" if hint else ""
            problems.append(f"{self.key(name)} is not a setting of this project (see Pulumi.yaml){suggestion}")
        return problems


class _Reported(Exception):
    """A list setting whose entries' problems are recorded already."""


def entry_keys(cls: type) -> set[str]:
    """The keys an entry object of a list setting may carry (setting groups inside have no prefix)."""
    hints, keys = get_type_hints(cls), set()
    for field in fields(cls):
        if stack_keys.PREFIX in field.metadata:
            keys |= entry_keys(hints[field.name])
        elif stack_keys.KEY in field.metadata:
            keys.add(stack_keys.full_key("", field.metadata[stack_keys.KEY]))
    return keys


def _typed(value: Any, hint: Any, name: str) -> Any:
    """A JSON value checked against a field's annotation. A list of strings also takes whole
    numbers (YAML reads `aksZones: [1, 2, 3]` as numbers, the way Azure zones are usually written)."""
    if hint == tuple[str, ...]:
        if not isinstance(value, list) or not all(
                isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)) for item in value):
            raise ArgError(name, f"must be a list of strings, got {value!r}")
        return tuple(str(item) for item in value)
    if hint == str | None:
        if value is not None and not isinstance(value, str):
            raise ArgError(name, f"must be a string, got {value!r}")
        return value or None
    expected = SCALARS.get(hint)
    if expected is None:
        raise ArgError(name, "cannot be set in a list entry")
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ArgError(name, f"must be {expected}, got {value!r}")
    return value
