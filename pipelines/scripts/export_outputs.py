"""Turn chosen Pulumi stack outputs into Azure DevOps output variables.

    pulumi stack output --json --show-secrets --stack qa > outputs.json
    python pipelines/scripts/export_outputs.py outputs.json mlflowUrl s3Endpoint mlflowAdminPassword=secret

Each NAME becomes `##vso[task.setvariable variable=NAME;isOutput=true]value`, read by later jobs as
`dependencies.<job>.outputs['<step>.NAME']`. `NAME=secret` adds `issecret=true`, so the agent
masks the value in every log. The export fails instead of exporting an empty string: Azure DevOps
would pass that on silently. The pipeline checker (pipeline_checker/) reads the NAMEs from this
command line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Azure DevOps ends a logging command at a newline and reads ';' and ']' in its properties.
_ESCAPES = {"%": "%AZP25", "\r": "%0D", "\n": "%0A"}


def escape(value: str) -> str:
    """Logging-command value escaping (a multi-line value must not start a second command)."""
    return "".join(_ESCAPES.get(char, char) for char in value)


def render(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)


def logging_commands(outputs: dict[str, object], requested: list[str]) -> list[str]:
    commands = []
    for item in requested:
        name, _, flag = item.partition("=")
        if flag not in ("", "secret"):
            raise ValueError(f"{item}: the only flag is =secret")
        if name not in outputs:
            raise KeyError(f"stack output {name!r} does not exist; the stack has: {', '.join(sorted(outputs))}")
        value = render(outputs[name])
        if value == "":
            raise ValueError(f"stack output {name!r} is empty; refusing to pass an empty variable on")
        secret = ";issecret=true" if flag == "secret" else ""
        commands.append(f"##vso[task.setvariable variable={name};isOutput=true{secret}]{escape(value)}")
    return commands


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: export_outputs.py OUTPUTS_JSON NAME[=secret]...", file=sys.stderr)
        return 2
    path, requested = Path(argv[0]), argv[1:]
    try:
        outputs = json.loads(path.read_text())
        for command in logging_commands(outputs, requested):
            print(command)
    except (OSError, json.JSONDecodeError) as error:
        print(f"export_outputs: cannot read {path}: {error}", file=sys.stderr)
        return 1
    except (KeyError, ValueError) as error:
        print(f"export_outputs: {error.args[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
