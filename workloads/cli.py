"""The convention every workload CLI follows: one error root carrying its exit code, one `main`.

Exit codes, shared by every `python -m workloads.<job>`:
  0  done
  1  failed, and a retry may help (a server down, a timeout); the Job's backoff retries it
  2  usage: bad arguments or configuration; retrying cannot help
  3+ the job's own bad-input codes, listed in its `errors` module as FAIL_FAST_EXIT_CODES; its
     CronJob's podFailurePolicy fails the Job at once on them (the components import that tuple)

Errors print one line to stderr, `<prog> <command>: <ErrorType>: <message>`; an unexpected
exception also logs its traceback (stderr, through `logging`) and exits `unexpected_exit_code`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import ClassVar

from workloads import outcomes

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class WorkloadError(Exception):
    """Root of every workload's errors. `exit_code` tells Kubernetes whether a retry can help."""

    exit_code: ClassVar[int] = EXIT_FAILURE


class UsageError(WorkloadError):
    """Bad arguments or configuration: nothing was done, and a retry would fail the same way."""

    exit_code: ClassVar[int] = EXIT_USAGE


def require_free_port(host: str, port: int) -> None:
    """UsageError (exit 2) when another program listens on host:port: a server started in the
    background would otherwise die into its log while a readiness check reaches the other one.
    Bound as uvicorn binds (SO_REUSEADDR: a closed socket's TIME_WAIT does not count)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise UsageError(f"port {port} on {host} is in use ({error.strerror}): another program listens there; "
                             "choose another --port (`make local-servers` prints free ones)") from None


def fail_fast_codes(*errors: type[WorkloadError]) -> tuple[int, ...]:
    """The distinct exit codes of `errors`, sorted: what a podFailurePolicy lists."""
    return tuple(sorted({error.exit_code for error in errors}))


def quiet_libraries() -> None:
    """In a Job's log (stderr is not a terminal) keep the job's own lines: no progress bars
    (MLflow's artifact transfers, tqdm) and no deprecation or future warnings from libraries,
    which repeat on every run and drown what the job says. A terminal keeps both."""
    if sys.stderr.isatty():
        return
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)


def utc_logging() -> None:
    """INFO and above to stderr, each line stamped with its UTC time (`2026-11-27T01:30:02Z`), as
    every time the daily jobs print."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[handler])


# Which batch job (and model) a command's run reports as (workloads/outcomes.py), or None; a third
# element lists other exit codes that still mean the run succeeded (training's "champion kept").
OutcomeKey = Callable[[argparse.Namespace], "tuple[str, str | None] | tuple[str, str | None, tuple[int, ...]] | None"]


def main(prog: str, parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, *,
         unexpected_exit_code: int = EXIT_FAILURE, outcome: OutcomeKey | None = None) -> int:
    """Parse `argv`, run the chosen command's `handler(args) -> int` and map errors to exit codes.

    The parser's sub-commands set `handler` with `set_defaults` (and `dest="command"`); argparse
    itself exits 2 on bad usage. With `outcome`, a command it names (job, model) for pushes its exit
    code and what it recorded to the Pushgateway when it ends (workloads/outcomes.py)."""
    quiet_libraries()
    args = parser.parse_args(argv)
    outcomes.start()
    code = _run(prog, args, unexpected_exit_code)
    key = outcome(args) if outcome else None
    if key:
        job, model, *also_ok = key
        outcomes.report(job, model, code, succeeded=code == EXIT_OK or code in (also_ok[0] if also_ok else ()))
    return code


def _run(prog: str, args: argparse.Namespace, unexpected_exit_code: int) -> int:
    label = " ".join(part for part in (prog, getattr(args, "command", None)) if part)
    try:
        return args.handler(args)
    except WorkloadError as error:
        print(f"{label}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return error.exit_code
    except Exception as error:  # a server, the network, a bug: say what, keep the traceback in the log
        logging.getLogger(prog).exception("%s failed", label)
        print(f"{label}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return unexpected_exit_code
