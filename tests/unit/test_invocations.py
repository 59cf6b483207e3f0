"""One seam per job invocation: what a component runs is the workload's own typed invocation, and
the workload's parser reads it back unchanged (a round trip per job)."""

from __future__ import annotations

import pytest

from platform_components.batch_scoring import scoring_command
from platform_components.feature_store import (
    CONFIG_DIR,
    REPO_DIR,
    apply_command,
    materialize_command,
    rebuild_online_command,
    serve_command,
)
from platform_components.model_training import promote_command, training_command
from tests.unit.conftest import one, run_with
from workloads.features.__main__ import parser as features_parser
from workloads.features.invocation import FeastRun, FeatureServer, Materialization
from workloads.invocation import Invocation
from workloads.scoring.__main__ import parser as scoring_parser
from workloads.scoring.invocation import BatchInvocation
from workloads.training.__main__ import parser as training_parser
from workloads.training.invocation import Promotion, TrainingRun

JOBS = [
    (BatchInvocation(model="churn", input="s3://features/churn/dt={ds}/", output="s3://predictions"), scoring_parser),
    (BatchInvocation(model="fraud", input="/data/in", output="/data/out", alias="challenger", no_log=True,
                     key_column=("region", "segment"), batch_rows=5_000, rows_per_file=10_000, workers=3,
                     config_dir="/etc/feast", repo_dir="/tmp/r", s3_endpoint="http://s3:8333", workdir="/tmp/w",
                     timestamp_column="ts", log_uri="s3://logs"), scoring_parser),
    (TrainingRun(model="churn", config_dir="/etc/feast", repo_dir="/tmp/repo"), training_parser),
    (TrainingRun(model="churn", config_dir="/c", repo_dir="/r", feature_service="churn_model_v2",
                 data_uri="s3://features/churn", min_metric=0.7, margin=-1.0, holdout_fraction=0.3,
                 kept_exit_code=0), training_parser),
    (Promotion(model="churn", from_tracking_uri="http://qa:5000", to_tracking_uri="http://prod:5000"), training_parser),
    (FeastRun(config_dir="/etc/feast", repo_dir="/tmp/r", feast_args=("apply",)), features_parser),
    (FeastRun(config_dir="/c", repo_dir="/r", feast_args=("materialize", "2026-12-01T00:00:00", "2026-12-06T00:00:00",
                                                           "--views", "customer_activity")), features_parser),
    (Materialization(config_dir="/c", repo_dir="/r"), features_parser),
    (Materialization(config_dir="/c", repo_dir="/r", end="2026-12-06T00:00:00+00:00"), features_parser),
    (FeatureServer(config_dir="/c", repo_dir="/r"), features_parser),
    (FeatureServer(config_dir="/c", repo_dir="/r", host="0.0.0.0", port=7000, workers=4, registry_ttl_seconds=5,
                   max_requests=1000, metrics=True), features_parser),
]


@pytest.mark.parametrize(("job", "parser"), JOBS, ids=lambda v: type(v).__name__ if isinstance(v, Invocation) else "")
def test_each_invocation_survives_its_own_parser(job, parser):
    argv = job.to_argv()
    assert argv[:4] == ["python", "-m", job.MODULE, job.COMMAND]
    args = parser().parse_args(argv[3:])
    assert args.command == job.COMMAND
    assert type(job).from_args(args) == job


def test_the_parsers_defaults_are_the_invocations():
    minimal = scoring_parser().parse_args(["batch", "--model", "m", "--input", "i", "--output", "o"])
    assert BatchInvocation.from_args(minimal) == BatchInvocation(model="m", input="i", output="o")
    run = training_parser().parse_args(["run", "--model", "m", "--config-dir", "c", "--repo-dir", "r"])
    assert TrainingRun.from_args(run) == TrainingRun(model="m", config_dir="c", repo_dir="r")


def test_the_components_run_exactly_an_invocation():
    assert training_command("churn") == TrainingRun(model="churn", config_dir=CONFIG_DIR, repo_dir=REPO_DIR,
                                                    kept_exit_code=0).to_argv()
    assert BatchInvocation(model="m", input="i", output="o").repo_dir == REPO_DIR, "one staging folder for all jobs"
    assert apply_command() == FeastRun(config_dir=CONFIG_DIR, repo_dir=REPO_DIR, feast_args=("apply",)).to_argv()
    assert rebuild_online_command("a", "b")[-4:] == ["--", "materialize", "a", "b"]
    assert materialize_command() == Materialization(config_dir=CONFIG_DIR, repo_dir=REPO_DIR).to_argv()
    server = FeatureServer.from_args(features_parser().parse_args(serve_command(workers=3)[3:]))
    assert (server.host, server.port, server.workers) == ("0.0.0.0", 6566, 3)
    assert promote_command("churn", "http://a", "http://b") == Promotion(
        model="churn", from_tracking_uri="http://a", to_tracking_uri="http://b").to_argv()
    command = scoring_command("churn", "s3://features/x/", "s3://predictions", "s3://monitoring", "http://s3:8333",
                              alias="champion", batch_rows=1000, workers=2)
    assert BatchInvocation.from_args(scoring_parser().parse_args(command[3:])).workers == 2
    # The rendered CronJob's command parses into the invocation the stack's settings give.
    cronjob = one(run_with("qa"), "CronJob", "score-churn")
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    job = BatchInvocation.from_args(scoring_parser().parse_args(container["command"][3:]))
    assert (job.model, job.input, job.batch_rows, job.workers) == ("churn", "s3://features/churn/customers/", 100_000, 1)


def test_a_bad_value_is_refused_when_the_invocation_is_made():
    with pytest.raises(ValueError, match="--workers must be at least 1, got 0"):
        BatchInvocation(model="m", input="i", output="o", workers=0)
