"""Which `##vso[task.setvariable ...]` logging commands a script really prints, per shell.

Microsoft's "Logging commands" doc: a command sets a variable when the script writes it to
standard output. Text the shell never runs does not: comments, lines after a top-level `exit`, and,
in bash, an unquoted `echo ##vso[...]`, where `#` starts a comment (the doc's samples quote it; its
Windows samples use cmd.exe, where `echo ##vso[...]` is printed). Heredoc bodies are printed text.

`live_text(text, shell)` returns the text that runs, for shell in bash, pwsh, python, cmd and js
(JavaScript: without its comments); any other shell returns the text unchanged.
"""

from __future__ import annotations

import re

HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)\s*(['\"]?)([A-Za-z_]\w*)\2")  # not a <<< here-string
BLOCK_OPEN = {"if", "case", "for", "while", "until", "select", "{"}
BLOCK_CLOSE = {"fi", "esac", "done", "}"}


def _bash_line(line: str, state: dict) -> str:
    """The line without its comment; `state` carries an open quote across lines."""
    out, quote, index = [], state.get("quote"), 0
    while index < len(line):
        char = line[index]
        if quote:
            if char == "\\" and quote == '"':
                out.append(line[index:index + 2])
                index += 2
                continue
            if char == quote:
                quote = None
        elif char == "\\":
            out.append(line[index:index + 2])
            index += 2
            continue
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t;&|()"):
            break
        out.append(char)
        index += 1
    state["quote"] = quote
    return "".join(out)


def _words(code: str) -> list[str]:
    return re.findall(r"[^\s;&|()]+|[{}]", code)


def _bash(text: str) -> str:
    lines, live, state, depth, heredoc = text.splitlines(), [], {}, 0, None
    for line in lines:
        if heredoc:
            live.append(line)
            if (line.lstrip("\t") if heredoc[0] else line) == heredoc[1]:
                heredoc = None
            continue
        in_quote = bool(state.get("quote"))
        code = _bash_line(line, state)
        live.append(code)
        if in_quote:
            continue
        marker = HEREDOC.search(code)
        if marker:
            heredoc = (marker.group(1) == "-", marker.group(3))
        words = _words(code)
        depth = max(0, depth + sum(w in BLOCK_OPEN for w in words) - sum(w in BLOCK_CLOSE for w in words))
        if depth == 0 and words[:1] == ["exit"] and not state.get("quote"):
            break
    return "\n".join(live)


def _pwsh(text: str) -> str:
    text = re.sub(r"<#.*?#>", "", text, flags=re.DOTALL)
    live, depth, quote = [], 0, None
    for line in text.splitlines():
        out = []
        for index, char in enumerate(line):
            if quote:
                if char == quote and (index == 0 or line[index - 1] != "`"):
                    quote = None
            elif char in "'\"":
                quote = char
            elif char == "#":
                break
            out.append(char)
        code = "".join(out)
        live.append(code)
        depth = max(0, depth + code.count("{") - code.count("}"))
        if depth == 0 and not quote and re.match(r"\s*(exit|return)\b", code, re.IGNORECASE):
            break
    return "\n".join(live)


def _python(text: str) -> str:
    live, quote = [], None
    for line in text.splitlines():
        out, index = [], 0
        while index < len(line):
            if quote:
                if line.startswith(quote, index) and (index == 0 or line[index - 1] != "\\"):
                    out.append(quote)
                    index += len(quote)
                    quote = None
                    continue
            elif line.startswith(('"""', "'''"), index):
                quote = line[index:index + 3]
                out.append(quote)
                index += 3
                continue
            elif line[index] in "'\"":
                quote = line[index]
            elif line[index] == "#":
                break
            out.append(line[index])
            index += 1
        if quote in ("'", '"'):
            quote = None  # a one-line string does not continue
        code = "".join(out)
        live.append(code)
        if not quote and re.match(r"(sys\.exit|exit|quit)\s*\(|raise\s+SystemExit\b", code):
            break
    return "\n".join(live)


def _cmd(text: str) -> str:
    live = []
    for line in text.splitlines():
        stripped = line.strip().lstrip("@")
        if re.match(r"(rem(\s|$)|::)", stripped, re.IGNORECASE):
            continue
        live.append(line)
        if re.match(r"exit(\s|$)", stripped, re.IGNORECASE):
            break
    return "\n".join(live)


def _js(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


SHELLS = {"bash": _bash, "pwsh": _pwsh, "python": _python, "cmd": _cmd, "js": _js}


def live_text(text: str, shell: str) -> str:
    """The parts of `text` that `shell` runs (comments and dead code removed)."""
    reader = SHELLS.get(shell)
    return reader(text) if reader else text
