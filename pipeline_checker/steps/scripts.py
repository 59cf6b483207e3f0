"""What variables a step sets: the logging commands its scripts print, and a task's declared outputs.

Microsoft's docs: "Set variables in scripts" (`##vso[task.setvariable variable=X;isOutput=true]`
printed by any process: bash, PowerShell, Python, cmd) and "Use output variables from tasks" (a
task's `outputVariables`). The scripts of a step are its inline script and the script files it
runs: a task's `filePath`/`scriptPath` input, or a path written in the script (`scripts/set.sh`,
`$(Build.SourcesDirectory)/ci/set.ps1`, `python tools\\emit.py`, `python -m pkg.module`), read
from the repository root, where steps start (`$(System.DefaultWorkingDirectory)`), or the step's
`workingDirectory`. Windows paths with backslashes are read too.

A `script:` step runs bash on Linux and macOS agents and cmd.exe on Windows: when the pool does not
say which, a variable only one of them would set is "maybe" set. What the checker cannot read (a
script file it cannot find, a variable whose name is computed, a task it does not know) makes the
step's outputs partly unknown: references to it are then warnings, not errors. Other programs a
script runs are assumed not to print logging commands.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_checker.catalog import Catalog
from pipeline_checker.steps.invocations import (
    SHELL_OF,
    cd_targets,
    js_requires,
    python_imports,
    python_modules,
    runners,
    script_paths,
)
from pipeline_checker.steps.shells import live_text

SET_VARIABLE = re.compile(r"##vso\[task\.setvariable\s+([^\]\n]*)\]", re.IGNORECASE)
ASSEMBLED = re.compile(r"(?<!##)vso\[task\.setvariable", re.IGNORECASE)
EXPORT_SCRIPT = re.compile(r"export_outputs\.py\s+(.*)")
ROOT_PREFIXES = re.compile(r"^(?:\$\((?:Build\.SourcesDirectory|System\.DefaultWorkingDirectory|"
                           r"Build\.Repository\.LocalPath)\)|\$\{?(?:BUILD_SOURCESDIRECTORY|"
                           r"SYSTEM_DEFAULTWORKINGDIRECTORY|BUILD_REPOSITORY_LOCALPATH)\}?|"
                           r"\$env:(?:BUILD_SOURCESDIRECTORY|SYSTEM_DEFAULTWORKINGDIRECTORY)|"
                           r"%(?:BUILD_SOURCESDIRECTORY|SYSTEM_DEFAULTWORKINGDIRECTORY)%|"
                           r"\$\((?:Pipeline\.Workspace|Agent\.BuildDirectory)\)/s)(?=/|$)", re.IGNORECASE)
STEP_SHELL = {"script": "script", "bash": "bash", "pwsh": "pwsh", "powershell": "pwsh"}
TASK_SHELL = {"bash": "bash", "shellscript": "bash", "powershell": "pwsh", "azurepowershell": "pwsh",
              "pythonscript": "python", "cmdline": "script", "batchscript": "cmd"}
CLI_SHELL = {"bash": "bash", "ps": "pwsh", "pscore": "pwsh", "batch": "cmd"}
INLINE_INPUTS = ("script", "inlineScript", "Inline")
FILE_INPUTS = ("filePath", "scriptPath", "ScriptPath", "filename", "scriptName")
MAX_DEPTH = 6


@dataclass
class Sets:
    """Variables a step sets. `variables`: name (lower case) -> (name, isOutput) for certain ones;
    `maybe`: name -> why it may not be set; `unknown`: why other variables may be set too."""

    variables: dict[str, tuple[str, bool]] = field(default_factory=dict)
    maybe: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    unprinted: dict[str, str] = field(default_factory=dict)  # name -> why its command never runs
    visited: set = field(default_factory=set)
    plain: set[str] = field(default_factory=set)  # names (lower case) also set without isOutput

    def merge(self, other: Sets) -> None:
        """Add what `other` (a script's own findings) sets."""
        for name, (shown, is_output) in other.variables.items():
            known = self.variables.get(name)
            self.variables[name] = (shown, is_output or bool(known and known[1]))
        self.plain |= other.plain
        for name, why in other.maybe.items():
            self.maybe.setdefault(name, why)
        self.unknown += [why for why in other.unknown if why not in self.unknown]
        for name, why in other.unprinted.items():
            self.unprinted.setdefault(name, why)

    def add(self, name: str, is_output: bool) -> None:
        known = self.variables.get(name.lower())
        self.variables[name.lower()] = (name, is_output or bool(known and known[1]))
        if not is_output:
            self.plain.add(name.lower())


def _commands(text: str, shell: str) -> list[dict]:
    result = []
    for match in SET_VARIABLE.finditer(live_text(text, shell)):
        props = {}
        for part in match.group(1).split(";"):
            key, _, value = part.strip().partition("=")
            props[key.strip().lower()] = value.strip()
        result.append(props)
    return result


def _unprinted(text: str, shell: str, sets: Sets, origin: str) -> None:
    """Note the logging commands written in `text` that the shell never runs, and why."""
    live = {c.get("variable", "").lower() for c in _commands(text, shell)}
    for match in SET_VARIABLE.finditer(text):
        name = match.group(1).partition("variable=")[2].split(";")[0].strip()
        if not name or name.lower() in live:
            continue
        line = text[text.rfind("\n", 0, match.start()) + 1:match.start()]
        if shell in ("bash", "script") and re.search(r"(^|[\s;&|])(echo|printf)\s+$", line):
            why = "bash reads an unquoted `#` as the start of a comment: quote the logging command"
        else:
            why = "it is commented out or after the script exits"
        sets.unprinted.setdefault(name.lower(), f"{origin} writes it, but {why}")


def _scan(text: str, shell: str, sets: Sets, origin: str) -> None:
    _unprinted(text, shell, sets, origin)
    if shell == "script":
        bash = {c.get("variable", "").lower(): c for c in _commands(text, "bash")}
        for command in _commands(text, "cmd"):
            name = command.get("variable", "").lower()
            if name and name not in bash and not _dynamic(name):
                sets.maybe[name] = ("it is printed only when the script runs in cmd.exe (Windows agents); bash "
                                    "reads an unquoted `echo ##vso[...]` as a comment, so quote it")
        commands = list(bash.values())
    else:
        commands = _commands(text, shell)
    if ASSEMBLED.search(live_text(text, shell if shell != "script" else "bash")):
        sets.unknown.append(f"{origin} assembles a logging command at run time (`vso[task.setvariable` without "
                            "`##` in the text)")
    for command in commands:
        name, output = command.get("variable", ""), command.get("isoutput", "false")
        if not name:
            continue
        if _dynamic(name) or _dynamic(output):
            sets.unknown.append(f"{origin} sets a variable whose name or isOutput it computes")
            continue
        sets.add(name, output.lower() == "true")


def _exported(text: str, sets: Sets) -> bool:
    """Names given to this project's pipelines/scripts/export_outputs.py, which exports each one with
    isOutput=true (its tests say so); True when the text runs it."""
    runs = False
    for match in EXPORT_SCRIPT.finditer(text):
        try:
            words = shlex.split(match.group(1).split("#")[0], posix=True)
        except ValueError:
            continue
        runs = True
        for word in words[1:]:  # the first is the JSON file
            if word in ("|", "&&", ";", ">", "||"):
                break
            sets.add(word.partition("=")[0], True)
    return runs


def _dynamic(text: str) -> bool:
    return any(marker in text for marker in ("$", "{", "%", "`", "("))


class StepReader:
    """Reads the scripts of steps; `root` is the repository root, `search_up` says whether a missing
    file may be looked for in the folders above `start` (when the root is not certain)."""

    def __init__(self, root: Path, catalog: Catalog, start: Path | None = None):
        self.root, self.catalog, self.start = root, catalog, start
        self.cache: dict[Path, str] = {}
        self.scanned: dict[tuple[Path, str], Sets] = {}  # what a script file sets, read once per run

    def sets(self, step: dict, os: str | None) -> Sets:
        """What `step` sets on an agent running `os` ("linux", "windows" or None when unknown)."""
        sets = Sets()
        workdir = step.get("workingDirectory")
        for key, shell in STEP_SHELL.items():
            if isinstance(step.get(key), str):
                shell = {"linux": "bash", "windows": "cmd"}.get(os, shell) if shell == "script" else shell
                self._text(step[key], shell, sets, f"the {key} of this step", workdir, 0)
        if isinstance(step.get("task"), str):
            self._task(step, os, sets)
        return sets

    def _task(self, step: dict, os: str | None, sets: Sets) -> None:
        spec = self.catalog.lookup(step["task"])
        if spec is None or spec.outputs is None:
            sets.unknown.append(f"task {step['task']} is not one whose output variables the checker knows")
        else:
            for name in spec.outputs:
                sets.add(name, True)
        inputs = self.catalog.inputs(step)
        family = str(step["task"]).partition("@")[0].lower()
        shell = TASK_SHELL.get(family) or CLI_SHELL.get(str(inputs.get("scriptType", "")).lower(), "other")
        if shell == "script" and os:
            shell = "bash" if os == "linux" else "cmd"
        selector = " ".join(str(inputs.get(k, "")) for k in ("targetType", "ScriptType", "scriptLocation",
                                                               "scriptSource")).lower()
        workdir = inputs.get("workingDirectory") or inputs.get("cwd") or inputs.get("workingFolder")
        if "file" not in selector and "path" not in selector:
            for key in INLINE_INPUTS:
                if isinstance(inputs.get(key), str):
                    self._text(inputs[key], shell, sets, f"input {key}", workdir, 0)
        if "inline" not in selector:
            for key in FILE_INPUTS:
                if isinstance(inputs.get(key), str):
                    # a task's script path is relative to $(System.DefaultWorkingDirectory), the root
                    self._file(inputs[key], sets, self._bases(None, None, []), 0, None if shell == "other" else shell)

    def _text(self, text: str, shell: str, sets: Sets, origin: str, workdir: Any, depth: int,
              here: Path | None = None) -> None:
        """Scan `text` and read what it runs."""
        _scan(text, shell, sets, origin)
        code = live_text(text, shell if shell != "script" else "bash")
        exported = depth == 0 and _exported(code, sets)
        bases = self._bases(workdir, here, cd_targets(code))
        read = set()
        for written in script_paths(code):
            skip = exported and written.endswith("export_outputs.py")
            if not skip and self._file(written, sets, bases, depth + 1):
                read.add(written)
        for module in python_modules(code):
            if not self._module(module, sets, bases, depth + 1):
                sets.unknown.append(f"python -m {module.replace('/', '.')} is not a module the checker found")
        if shell == "python":  # local modules it imports; others are libraries
            for module in python_imports(code):
                self._module(module, sets, bases, depth + 1)
        if shell == "js":
            for module in js_requires(code):
                self._file(module if Path(module).suffix else f"{module}.js", sets, bases, depth + 1, quiet=True)
        for command in runners(code):
            if not any(written in command for written in read):
                sets.unknown.append(f"{origin} runs `{command[:60]}`, whose output the checker does not read")

    def _module(self, module: str, sets: Sets, bases: list[Path], depth: int) -> bool:
        for candidate in (f"{module}.py", f"{module}/__main__.py", f"{module}/__init__.py"):
            if self._file(candidate, sets, bases, depth, quiet=True):
                return True
        return False

    def _file(self, written: str, sets: Sets, bases: list[Path], depth: int, shell: str | None = None,
              quiet: bool = False) -> bool:
        """Read the file `written` names (True), or note that it cannot be read (False)."""
        found = self._find(written, bases)
        if found is None:
            if not quiet:
                sets.unknown.append(f"script {written} is not a file the checker can read")
            return False
        if depth > MAX_DEPTH:
            sets.unknown.append(f"script {written} is more than {MAX_DEPTH} scripts deep")
            return True
        if found not in sets.visited:
            sets.visited.add(found)
            shell = shell or SHELL_OF.get(found.suffix.lower(), "other")
            key = (found, shell)
            if key not in self.scanned:  # a file many steps run (PowerShell's build modules) is read once
                own = Sets(visited={found})
                if found not in self.cache:
                    self.cache[found] = found.read_text(errors="replace")
                self._text(self.cache[found], shell, own, f"script {found.name}", None, depth, found.parent)
                self.scanned[key] = own
            sets.merge(self.scanned[key])
        return True

    def _bases(self, workdir: Any, here: Path | None, cds: list[str]) -> list[Path]:
        """Folders a relative path may start from: the working directory, the script's own folder, the
        folders the script changes into, and (root not certain) the folders above the pipeline."""
        first = self._base(workdir)
        bases = [b for b in (first, here) if b is not None]
        for target in cds:
            folder = self._base(target) if not target.startswith(("/", "$", "%", "~")) else None
            if folder is not None:
                bases += [folder, *((b / target) for b in bases[:2])]
        if self.start is not None:
            bases += [self.start, *self.start.parents]
        return bases

    def _find(self, written: str, bases: list[Path]) -> Path | None:
        """The file a path written in a step or script means, or None."""
        path = str(written).strip().strip("'\"").replace("\\", "/")
        path = ROOT_PREFIXES.sub("", path).lstrip("/") if ROOT_PREFIXES.match(path) else path
        if "$" in path or "%" in path or path.startswith("/"):
            return None
        for base in bases:
            if base is not None and (base / path).is_file():
                return (base / path).resolve()
        return None

    def _base(self, workdir: Any) -> Path | None:
        if not isinstance(workdir, str) or not workdir.strip():
            return self.root
        path = workdir.strip().replace("\\", "/")
        path = ROOT_PREFIXES.sub("", path).lstrip("/") if ROOT_PREFIXES.match(path) else path
        return None if "$" in path or path.startswith("/") else self.root / path
