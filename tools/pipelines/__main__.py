"""`python -m tools.pipelines [PIPELINE ...]`: check Azure DevOps pipelines offline.

With no argument it checks the project's azure-pipelines.yml. Exit code 1 when a pipeline has an
error, 0 otherwise (warnings too, unless --strict). docs/pipelines.md says what is read and why a
finding is a warning.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.pipelines import report
from tools.pipelines.checker import Options, Result, check
from tools.pipelines.findings import Finding

DEFAULT = Path(__file__).resolve().parents[2] / "azure-pipelines.yml"


def _repository(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    if not Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"{path} is not a folder")
    return name, Path(path)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.pipelines", description=__doc__.split("\n\n")[0])
    parser.add_argument("pipelines", nargs="*", type=Path, default=[DEFAULT],
                        help="pipeline files (default: %(default)s)")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    parser.add_argument("--root", type=Path, help="the repository root, for /absolute template paths and scripts "
                                                  "(default: the git checkout around each pipeline)")
    parser.add_argument("--repository", type=_repository, action="append", default=[], metavar="NAME=PATH",
                        help="a local checkout of the repository resource NAME (templates like x.yml@NAME)")
    parser.add_argument("--extensions", type=Path, help="a JSON file of tasks to add to the schema "
                                                        "(default: pipelines/schema/extensions.json)")
    return parser


def _check(path: Path, options: Options) -> Result:
    """`check`, with a failure of the checker itself reported as a warning on the pipeline, not a traceback."""
    try:
        return check(path, options)
    except Exception as error:  # noqa: BLE001 - one pipeline the checker cannot read must not stop the others
        message = f"not checked: the checker failed on this pipeline ({type(error).__name__}: {error}); please report it"
        return Result(path, [Finding(str(path), 0, message, "warning", "not-checked")], "not read")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = Options(args.root, dict(args.repository), args.extensions)
    results = [_check(path, options) for path in args.pipelines]
    if args.format == "json":
        sys.stdout.write(report.as_json(results))
    elif args.format == "sarif":
        sys.stdout.write(report.as_sarif(results))
    else:
        out, err = report.text(results)
        sys.stdout.write(out)
        sys.stdout.flush()  # the findings before the status lines on stderr
        sys.stderr.write(err)
    failed = any(r.errors or (args.strict and r.warnings) for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
