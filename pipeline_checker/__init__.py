"""Offline checker for Azure DevOps pipelines (`make check-pipelines`, docs/pipelines.md).

It compiles a pipeline the way Azure DevOps does, then checks it:
1. `expand.py` (with `includes.py`, `directives.py`, `templates.py`, `parameters.py`,
   `variables.py`, `expressions.py`, `functions.py`, `values.py`): templates, extends,
   parameters, `${{ }}` expressions and
   directives, compile-time variables; what cannot be known offline stays `Unknown`, and an
   `${{ if }}` on it keeps every branch.
2. `schema.py`: the vendored official schema, read as Azure DevOps reads YAML (`source.py`).
3. `tasks.py`: task names and inputs against the tasks' definitions (schema, `data/tasks.json`,
   extensions).
4. `model.py`, `references.py`, `flow.py` (with `scripts.py`, `shells.py`, `invocations.py`):
   every `dependencies`/`stageDependencies` output reference must point at a variable a step
   really sets with `isOutput=true`. Azure DevOps turns a wrong reference into an empty string.
`checker.py` runs one pipeline; `findings.py` and `report.py` say what was found (text, JSON,
SARIF 2.1.0). Errors only where the pipeline is provably wrong; warnings, with the reason, for
what cannot be decided offline.
"""
