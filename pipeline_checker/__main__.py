"""`python -m pipeline_checker`: the `pipeline-checker` command (cli.py)."""

import sys

from pipeline_checker.cli import main

sys.exit(main())
