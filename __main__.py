"""Entry point for `pulumi up`: everything lives in infra/program.py."""

from infra.program import deploy

deploy()
