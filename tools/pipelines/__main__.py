"""`python -m tools.pipelines [PIPELINE ...]`: check Azure DevOps pipelines offline.

With no argument it checks the project's azure-pipelines.yml. Templates resolve relative to the
file that includes them, so any repository's pipelines can be checked in place. Exit code 0 when
every check passes, 1 with `file:line: message` lines otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.pipelines.expand import Expander
from tools.pipelines.flow import Flow
from tools.pipelines.schema import validate_pipeline, validate_template
from tools.pipelines.source import CheckError, Finding

DEFAULT = Path(__file__).resolve().parents[2] / "azure-pipelines.yml"


def check(path: Path) -> tuple[list[Finding], str]:
    """(findings, summary) for one pipeline file and the templates it uses."""
    try:
        expansion = Expander(path).pipeline(path)
    except CheckError as error:
        return [error.finding], "expansion stopped"
    findings = validate_pipeline(expansion.pipeline)
    checked = set()
    for use in expansion.templates:
        findings += [f for f in validate_template(use.kind, use.declared, use.body) if str(f) not in checked]
        checked |= {str(f) for f in findings}
    flow = Flow(expansion.pipeline, path.resolve().parent)
    findings += flow.check()
    stages = len(flow.stages)
    jobs = sum(len(s.jobs) for s in flow.stages.values())
    templates = len({use.file for use in expansion.templates})
    return findings, f"{stages} stages, {jobs} jobs, {len(expansion.templates)} template uses ({templates} files)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pipelines", description=__doc__.split("\n\n")[0])
    parser.add_argument("pipelines", nargs="*", type=Path, default=[DEFAULT])
    args = parser.parse_args(argv)
    failed = 0
    for path in args.pipelines:
        findings, summary = check(path)
        for finding in findings:
            print(finding, flush=True)
        status = "FAILED" if findings else "ok"
        print(f"{status}: {path} ({summary}; {len(findings)} problems)", file=sys.stderr if findings else sys.stdout)
        failed += bool(findings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
