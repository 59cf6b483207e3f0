"""`pipeline-checker [PIPELINE ...]` (or `python -m pipeline_checker`): check Azure DevOps pipelines
offline.

With no argument it checks ./azure-pipelines.yml. Exit code 1 when a pipeline has an error, 0
otherwise (warnings too, unless --strict); 2 for a bad argument. docs/pipelines.md lists the
rules and says what is read and why a finding is a warning.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline_checker import report
from pipeline_checker.checker import Options, Result, check
from pipeline_checker.findings import NOT_CHECKED, Finding
from pipeline_checker.rules import all_rules, rule_ids

DEFAULT = Path("azure-pipelines.yml")


def _repository(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    if not Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"{path} is not a folder")
    return name, Path(path)


def _rules(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [i for i in ids if i not in rule_ids()]
    if unknown:
        raise argparse.ArgumentTypeError(f"no rule {unknown[0]!r}; the rules: {', '.join(rule_ids())}")
    return ids


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipeline-checker", description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("pipelines", nargs="*", type=Path, default=[DEFAULT],
                        help="pipeline files (default: %(default)s)")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    parser.add_argument("--root", type=Path, help="the repository root, for /absolute template paths and scripts "
                                                  "(default: the nearest folder above each pipeline holding .git)")
    parser.add_argument("--repository", type=_repository, action="append", default=[], metavar="NAME=PATH",
                        help="a local checkout of the repository resource NAME (templates like x.yml@NAME)")
    parser.add_argument("--extensions", type=Path, help="a JSON file of tasks to add to the built-in ones "
                                                        "(marketplace tasks: docs/pipelines.md)")
    parser.add_argument("--disable", type=_rules, action="append", default=[], metavar="RULE[,RULE]",
                        help="leave out the findings of these rules (repeatable; --list-rules lists them)")
    parser.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    return parser


def _check(path: Path, options: Options) -> Result:
    """`check`, with a failure of the checker itself reported as a warning on the pipeline, not a traceback."""
    try:
        return check(path, options)
    except Exception as error:  # noqa: BLE001 - one pipeline the checker cannot read must not stop the others
        message = f"not checked: the checker failed on this pipeline ({type(error).__name__}: {error}); please report it"
        return Result(path, [Finding(str(path), 0, message, "warning", NOT_CHECKED.id)], "not read")


def list_rules() -> str:
    width = max(len(rule.id) for rule in all_rules())
    return "".join(f"{rule.id:<{width}}  {rule.severity:<7}  {rule.description}\n" for rule in all_rules())


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list_rules:
        sys.stdout.write(list_rules())
        return 0
    disabled = frozenset(rule for group in args.disable for rule in group)
    options = Options(args.root, dict(args.repository), args.extensions, disabled)
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
