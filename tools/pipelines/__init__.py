"""Offline checker for Azure DevOps pipelines (`make check-pipelines`, docs/pipelines.md).

1. Template expansion (`expand.py`) of the constructs the project uses: `template:` with
   `parameters`, `${{ parameters.x }}`, `${{ each }}`, `${{ if }}` / `elseif` / `else`. Anything
   else written in `${{ }}` stops the check with a message instead of passing unread.
2. Schema validation (`schema.py`) of the expanded pipeline, and of each template as used, against
   the vendored official Azure Pipelines schema (`pipelines/schema/`).
3. Output-variable flow (`flow.py`): every `dependencies.<job>.outputs['<step>.<var>']` and
   `stageDependencies.<stage>.<job>.outputs[...]` must name a job or stage the consumer depends on,
   a step with that name, which sets the variable with `isOutput=true` (with the job-name prefix
   for runOnce deployment jobs). Azure DevOps turns a wrong reference into an empty string.
"""
