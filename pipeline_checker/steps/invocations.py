"""What a script runs: the script files and modules it names, and programs whose output is unread.

Paths are found as written in bash, PowerShell, cmd and Python (`scripts/set.sh`,
`.\\tools\\emit.ps1`, `$(Build.SourcesDirectory)/ci/x.py`, `python -m pkg.module`, `node x.js`),
plus a Python file's local imports and a JavaScript file's relative `require`/`import`.
A program that may print logging commands itself (node, npm, make, dotnet, an executable started
as `./name`, ...) is a "runner": unless the file it runs is read, what it prints is unknown.
"""

from __future__ import annotations

import re

EXTENSIONS = "sh|bash|ps1|psm1|py|cmd|bat|js|mjs|cjs|ts"
SCRIPT_FILE = re.compile(r"""(?:^|(?<=[\s"'=(]))((?:\$\([\w.]+\)|\$\{?\w+\}?|\$env:\w+|%\w+%|\.{1,2})?"""
                         rf"""[\\/]?(?:[\w.\-]+[\\/])*[\w.\-]+\.(?:{EXTENSIONS}))\b""", re.IGNORECASE)
PYTHON_MODULE = re.compile(r"\bpython[\d.]*(?:\.exe)?\s+(?:-\w+\s+)*-m\s+([\w.]+)")
PYTHON_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[\w \t,]+)"
                           r"|import[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*))", re.MULTILINE)
JS_REQUIRE = re.compile(r"""(?:require\(\s*|from\s+|import\s+)['"](\.{1,2}/[^'"]+)['"]""")
RUNNER = re.compile(r"(?:^|[;&|({]|\b(?:then|do|else|exec|time|sudo|call)\b)\s*"
                    r"((?:node|nodejs|npm|npx|yarn|pnpm|make|ruby|perl|php|java|dotnet|go|cargo|gradle|mvn|deno|bun"
                    r"|ts-node)\b[^\n;&|]*|\.{1,2}[\\/][\w./\\-]+[^\n;&|]*)", re.MULTILINE | re.IGNORECASE)
CD = re.compile(r"^\s*(?:cd|pushd|Set-Location|Push-Location)\s+['\"]?([^\s'\";&|]+)", re.MULTILINE | re.IGNORECASE)
SHELL_OF = {".sh": "bash", ".bash": "bash", ".ps1": "pwsh", ".psm1": "pwsh", ".py": "python", ".cmd": "cmd",
            ".bat": "cmd", ".js": "js", ".mjs": "js", ".cjs": "js", ".ts": "js"}


def script_paths(code: str) -> list[str]:
    return [m.group(1) for m in SCRIPT_FILE.finditer(code)]


def python_modules(code: str) -> list[str]:
    """Modules run with `python -m`, as paths without extension (pkg/module)."""
    return [m.group(1).replace(".", "/") for m in PYTHON_MODULE.finditer(code)]


def python_imports(code: str) -> list[str]:
    """Modules a Python file imports, as paths without extension (`from a import b` may import the
    module a/b); relative imports start from the file's folder."""
    found = []
    for match in PYTHON_IMPORT.finditer(code):
        if match.group(1) is not None:
            dots = len(match.group(1)) - len(match.group(1).lstrip("."))
            base = "../" * max(dots - 1, 0) + match.group(1).lstrip(".").replace(".", "/")
            found.append(base)
            names = [n.strip().split()[0] for n in match.group(2).strip("()").split(",") if n.strip()]
            found += [f"{base}/{name}".lstrip("/") for name in names]
        else:
            found += [part.strip().replace(".", "/") for part in match.group(3).split(",")]
    return [f for f in found if f and not f.endswith("/")]


def js_requires(code: str) -> list[str]:
    return [m.group(1) for m in JS_REQUIRE.finditer(code)]


def runners(code: str) -> list[str]:
    """Commands that run a program which may print logging commands itself."""
    return [m.group(1).strip() for m in RUNNER.finditer(code)]


def cd_targets(code: str) -> list[str]:
    return [m.group(1) for m in CD.finditer(code)]
