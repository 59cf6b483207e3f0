"""`python -m tools.credentials --stack dev`: the credentials a stack needs with `credentialSource: config`.

Renders the stack offline (as `make synth` does, in the default `generated` mode) and lists the name
of every password and key the program would generate, one per line, or with `--commands` the
`pulumi config set --secret --path 'credentials.<name>' ...` lines to fill in from your vault.
"""

from __future__ import annotations

import argparse
import sys

from infra.offline import available_stacks, run_offline
from infra.settings import SettingsError
from platform_components.credentials import CONFIG_KEY, GENERATED

RANDOM_TYPES = {"random:index/randomPassword:RandomPassword": "password",
                "random:index/randomString:RandomString": "access key ID (20 upper-case letters and digits)"}


def needed_credentials(stack: str) -> dict[str, str]:
    """Name -> what it is, for every credential the stack's program makes. Raises SettingsError."""
    run = run_offline(stack, overrides={"credentialSource": GENERATED})
    return {r.name: RANDOM_TYPES[r.typ] for r in run.resources if r.typ in RANDOM_TYPES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.credentials", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=available_stacks())
    parser.add_argument("--commands", action="store_true", help="print `pulumi config set` lines instead of names")
    args = parser.parse_args(argv)
    try:
        needed = needed_credentials(args.stack)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    for name, kind in needed.items():
        if args.commands:
            print(f"pulumi config set --stack {args.stack} --secret --path '{CONFIG_KEY}.{name}' \"$VALUE\"  # {kind}")
        else:
            print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
