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

from tools.pipelines.shells import live_text
from tools.pipelines.tasks import Catalog

SET_VARIABLE = re.compile(r"##vso\[task\.setvariable\s+([^\]\n]*)\]", re.IGNORECASE)
SCRIPT_FILE = re.compile(r"""(?:^|(?<=[\s"'=(]))((?:\$\([\w.]+\)|\$\{?\w+\}?|\$env:\w+|%\w+%|\.{1,2})?"""
                         r"""[\\/]?(?:[\w.\-]+[\\/])*[\w.\-]+\.(?:sh|bash|ps1|psm1|py|cmd|bat))\b""", re.IGNORECASE)
PYTHON_MODULE = re.compile(r"\bpython[\d.]*(?:\.exe)?\s+(?:-\w+\s+)*-m\s+([\w.]+)")
EXPORT_SCRIPT = re.compile(r"export_outputs\.py\s+(.*)")
ROOT_PREFIXES = re.compile(r"^(?:\$\((?:Build\.SourcesDirectory|System\.DefaultWorkingDirectory|"
                           r"Build\.Repository\.LocalPath)\)|\$\{?(?:BUILD_SOURCESDIRECTORY|"
                           r"SYSTEM_DEFAULTWORKINGDIRECTORY|BUILD_REPOSITORY_LOCALPATH)\}?|"
                           r"\$env:(?:BUILD_SOURCESDIRECTORY|SYSTEM_DEFAULTWORKINGDIRECTORY)|"
                           r"%(?:BUILD_SOURCESDIRECTORY|SYSTEM_DEFAULTWORKINGDIRECTORY)%|"
                           r"\$\((?:Pipeline\.Workspace|Agent\.BuildDirectory)\)/s)(?=/|$)", re.IGNORECASE)
EXTENSION_SHELL = {".sh": "bash", ".bash": "bash", ".ps1": "pwsh", ".psm1": "pwsh", ".py": "python",
                   ".cmd": "cmd", ".bat": "cmd"}
STEP_SHELL = {"script": "script", "bash": "bash", "pwsh": "pwsh", "powershell": "pwsh"}
TASK_SHELL = {"bash": "bash", "shellscript": "bash", "powershell": "pwsh", "azurepowershell": "pwsh",
              "pythonscript": "python", "cmdline": "script", "batchscript": "cmd"}
CLI_SHELL = {"bash": "bash", "ps": "pwsh", "pscore": "pwsh", "batch": "cmd"}
INLINE_INPUTS = ("script", "inlineScript", "Inline")
FILE_INPUTS = ("filePath", "scriptPath", "ScriptPath", "filename", "scriptName")
MAX_DEPTH = 3


@dataclass
class Sets:
    """Variables a step sets. `variables`: name (lower case) -> (name, isOutput) for certain ones;
    `maybe`: name -> why it may not be set; `unknown`: why other variables may be set too."""

    variables: dict[str, tuple[str, bool]] = field(default_factory=dict)
    maybe: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    visited: set = field(default_factory=set)

    def add(self, name: str, is_output: bool) -> None:
        known = self.variables.get(name.lower())
        self.variables[name.lower()] = (name, is_output or bool(known and known[1]))


def _commands(text: str, shell: str) -> list[dict]:
    result = []
    for match in SET_VARIABLE.finditer(live_text(text, shell)):
        props = {}
        for part in match.group(1).split(";"):
            key, _, value = part.strip().partition("=")
            props[key.strip().lower()] = value.strip()
        result.append(props)
    return result


def _scan(text: str, shell: str, sets: Sets, origin: str) -> None:
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
                    self._file(inputs[key], sets, workdir, 0, shell)

    def _text(self, text: str, shell: str, sets: Sets, origin: str, workdir: Any, depth: int,
              here: Path | None = None) -> None:
        _scan(text, shell, sets, origin)
        code = live_text(text, shell if shell != "script" else "bash")
        exported = depth == 0 and _exported(code, sets)
        for match in SCRIPT_FILE.finditer(code):
            if not (exported and match.group(1).endswith("export_outputs.py")):
                self._file(match.group(1), sets, workdir, depth + 1, None, here)
        for match in PYTHON_MODULE.finditer(code):
            module = match.group(1).replace(".", "/")
            found = self._find(f"{module}.py", workdir, here) or self._find(f"{module}/__main__.py", workdir, here)
            if found is None:
                sets.unknown.append(f"python -m {match.group(1)} is not a module the checker found")
            else:
                self._read(found, "python", sets, workdir, depth + 1)

    def _file(self, written: str, sets: Sets, workdir: Any, depth: int, shell: str | None,
              here: Path | None = None) -> None:
        found = self._find(written, workdir, here)
        if found is None:
            sets.unknown.append(f"script {written} is not a file the checker can read")
            return
        self._read(found, shell or EXTENSION_SHELL.get(found.suffix.lower(), "other"), sets, workdir, depth)

    def _read(self, path: Path, shell: str, sets: Sets, workdir: Any, depth: int) -> None:
        if depth > MAX_DEPTH or path in sets.visited:
            return
        sets.visited.add(path)
        if path not in self.cache:
            self.cache[path] = path.read_text(errors="replace")
        text = self.cache[path]
        self._text(text, shell, sets, f"script {path.name}", workdir, depth, path.parent)

    def _find(self, written: str, workdir: Any, here: Path | None) -> Path | None:
        """The file a path written in a step or script means, or None."""
        path = str(written).strip().strip("'\"").replace("\\", "/")
        path = ROOT_PREFIXES.sub("", path).lstrip("/") if ROOT_PREFIXES.match(path) else path
        if "$" in path or "%" in path or path.startswith("/"):
            return None
        bases = [self._base(workdir), here] if here else [self._base(workdir)]
        if self.start is not None:
            bases += [self.start, *self.start.parents]
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
