"""Findings for people and machines: text, JSON, and SARIF 2.1.0 (read by Azure DevOps' Scans tab
and GitHub code scanning; OASIS SARIF 2.1.0, docs.oasis-open.org/sarif/sarif/v2.1.0).

- text: `file:line: severity: message [rule]` per finding, then one summary line per pipeline;
- json: {"pipelines": [{"path", "summary", "errors", "warnings", "findings": [{file, line,
  severity, rule, message}]}], "errors": N, "warnings": N};
- sarif: one run of the tool `azure-pipelines-checker`, its rules generated from the registry
  (`rules.all_rules()`: id, description, default level, help URI), one result per finding with its
  rule's id and index, level error or warning, and the file (relative to the repository root,
  `%SRCROOT%`) and line.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from pipeline_checker.checker import Result
from pipeline_checker.rules import all_rules

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL = "azure-pipelines-checker"


def text(results: list[Result]) -> tuple[str, str]:
    """(stdout, stderr): the findings, and each pipeline's status line (on stderr when it failed)."""
    out, err = [], []
    for result in results:
        out += [f.shown for f in result.findings]
        status = "FAILED" if result.errors else "ok"
        suppressed = f", {result.suppressed} suppressed" if result.suppressed else ""
        line = (f"{status}: {result.path} ({result.summary}; {len(result.errors)} errors, "
                f"{len(result.warnings)} warnings{suppressed})")
        (err if result.errors else out).append(line)
    return "\n".join(out) + ("\n" if out else ""), "\n".join(err) + ("\n" if err else "")


def as_json(results: list[Result]) -> str:
    document = {
        "pipelines": [{"path": str(r.path), "summary": r.summary, "errors": len(r.errors),
                       "warnings": len(r.warnings), "suppressed": r.suppressed,
                       "findings": [asdict(f) for f in r.findings]} for r in results],
        "errors": sum(len(r.errors) for r in results),
        "warnings": sum(len(r.warnings) for r in results),
    }
    return json.dumps(document, indent=2) + "\n"


def as_sarif(results: list[Result]) -> str:
    registry = all_rules()
    rules = [{"id": rule.id, "shortDescription": {"text": rule.description}, "helpUri": rule.help_uri,
              "defaultConfiguration": {"level": rule.severity}} for rule in registry]
    index = {rule.id: position for position, rule in enumerate(registry)}
    sarif_results = []
    for result in results:
        for finding in result.findings:
            location = {"artifactLocation": {"uri": finding.file if finding.file != "?" else str(result.path),
                                             "uriBaseId": "%SRCROOT%"}}
            if finding.line:
                location["region"] = {"startLine": finding.line}
            sarif_results.append({
                "ruleId": finding.rule, "ruleIndex": index[finding.rule], "level": finding.severity,
                "message": {"text": finding.message}, "locations": [{"physicalLocation": location}],
            })
    document = {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": TOOL, "informationUri": "https://learn.microsoft.com/azure/devops/"
                                      "pipelines/yaml-schema", "rules": rules}},
                  "results": sarif_results}],
    }
    return json.dumps(document, indent=2) + "\n"
