"""Run a model's training Job in a cluster from its CronJob template and export its decision.

    python pipelines/scripts/run_training_job.py --namespace mlops --model churn --run-id 1234

Creates `train-<model>-<run-id>` with `kubectl create job --from=cronjob/train-<model>` (the same
spec the CronJob runs), waits for it to complete or fail, prints its log, and sets the output
variables `decision`, `version` and `champion` from the log's last line (`decision=... version=...
champion=...`, printed by `python -m workloads.training run`). Exits 1 if the Job failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

OUTPUTS = ("decision", "version", "champion")


def parse_decision(log: str) -> dict[str, str]:
    """The `key=value` pairs of the last line that has them all; empty if none has."""
    for line in reversed(log.strip().splitlines()):
        pairs = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if all(key in pairs for key in OUTPUTS):
            return {key: pairs[key] for key in OUTPUTS}
    return {}


def kubectl(*args: str) -> str:
    return subprocess.run(["kubectl", *args], check=True, capture_output=True, text=True).stdout


def job_state(namespace: str, job: str) -> str:
    """"Complete", "Failed" or "" (still running), from the Job's conditions."""
    conditions = kubectl("-n", namespace, "get", "job", job, "-o",
                         "jsonpath={range .status.conditions[?(@.status=='True')]}{.type} {end}")
    return next((state for state in ("Complete", "Failed") if state in conditions.split()), "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--run-id", required=True, help="makes the Job's name unique (the pipeline run's ID)")
    parser.add_argument("--timeout-seconds", type=int, default=3 * 3600)
    args = parser.parse_args(argv)
    job = f"train-{args.model}-{args.run_id}"
    kubectl("-n", args.namespace, "create", "job", job, f"--from=cronjob/train-{args.model}")
    deadline, state = time.monotonic() + args.timeout_seconds, ""
    while not state and time.monotonic() < deadline:
        time.sleep(15)
        state = job_state(args.namespace, job)
    log = kubectl("-n", args.namespace, "logs", f"job/{job}", "--tail", "200")
    print(log)
    outputs = parse_decision(log)
    print(f"##vso[task.setvariable variable=decision;isOutput=true]{outputs.get('decision', 'failed')}")
    print(f"##vso[task.setvariable variable=version;isOutput=true]{outputs.get('version', '')}")
    print(f"##vso[task.setvariable variable=champion;isOutput=true]{outputs.get('champion', '')}")
    if state != "Complete" or not outputs:
        print(f"training Job {job}: {state or 'timed out'}; no decision read", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
