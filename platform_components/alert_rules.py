"""The platform's alert rules: one table, built from the stack's settings. Pure data, no Pulumi.

`alerts(thresholds)` lists every alert; `rule_groups` renders them as Prometheus rule groups,
which the monitoring component ships as a PrometheusRule (Prometheus Operator) and the tests
check with the real `promtool` (`check rules`, and `test rules` with series that make each alert
fire and stay quiet). Every alert links to its runbook section in docs/operations.md
(`RUNBOOK_DOC#<anchor>`; a unit test checks each anchor exists).

Where the rules come from:
- Error-budget burn (model server errors and slow requests): the multiwindow, multi-burn-rate
  alerts of the Google SRE workbook, ch. 5 "Alerting on SLOs" (table 5-8): page when 2 % of a
  30-day budget burns in 1 h (burn rate 14.4, confirmed over 5 m), ticket when 5 % burns in 6 h
  (burn rate 6, confirmed over 30 m).
- Latency SLO: "99 % of requests answered within `latency_slo_seconds`", read off the histogram
  bucket of that bound (so the bound must be a bucket boundary, metric_names.LATENCY_BUCKETS).
- CronJob lateness and failed Jobs: kube-state-metrics' series, as kubernetes-mixin's
  KubeCronJobNotScheduled/KubeJobFailed, with the period taken from the CronJob's own next and
  last schedule times (no per-schedule threshold to keep in sync).
- Volumes: the kubelet's volume stats, as kubernetes-mixin's KubePersistentVolumeFillingUp.
- Batch outcomes: what the Jobs push to the Pushgateway (workloads/outcomes.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from platform_components.validation import ArgError
from workloads import metric_names as names

RUNBOOK_DOC = "docs/operations.md"
# Scrape jobs (the `job` label every ServiceMonitor sets; monitoring.py), and the pushed jobs.
MLFLOW_JOB = "mlflow"
FEATURE_SERVER_JOB = "feature-server"
MODEL_SERVER_JOB = "model-server"
POSTGRES_EXPORTER_JOB = "postgres-exporter"
REDIS_EXPORTER_JOB = "redis-exporter"
PUSHGATEWAY_JOB = "pushgateway"
SCRAPE_JOBS = (MLFLOW_JOB, FEATURE_SERVER_JOB, MODEL_SERVER_JOB, POSTGRES_EXPORTER_JOB, REDIS_EXPORTER_JOB,
               PUSHGATEWAY_JOB)

CRITICAL = "critical"  # page someone now
WARNING = "warning"  # a ticket: look within working hours
# (name, long window, short window, burn rate, severity): SRE workbook table 5-8.
BURN_WINDOWS = (("Fast", "1h", "5m", 14.4, CRITICAL), ("Slow", "6h", "30m", 6.0, WARNING))
SLO_PERIOD_DAYS = 30


@dataclass(frozen=True)
class Alert:
    """One alerting rule. `summary` and `description` may use Prometheus' templates
    ({{ $labels.x }}, {{ $value }}); `runbook` is the anchor of its section in RUNBOOK_DOC."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str

    def rule(self, runbook_url: str = RUNBOOK_DOC) -> dict:
        """The rule as Prometheus' rule-file entry; `runbook_url` is where RUNBOOK_DOC is served."""
        return {
            "alert": self.name, "expr": self.expr, "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "description": self.description,
                            "runbook_url": f"{runbook_url}#{self.runbook}"},
        }


@dataclass(frozen=True)
class AlertThresholds:
    """What the rules compare against, from the stack's settings (monitoring.py).

    namespace: the platform's namespace; every selector is scoped to it.
    availability_slo: share of scoring requests that must not fail with a 5xx, e.g. 0.995.
    latency_slo_seconds: the bound 99 % of scoring requests must be answered within; a boundary
        of metric_names.LATENCY_BUCKETS.
    performance_floor: AUC under which a model counts as degraded (driftPerformanceFloor), or None.
    cronjob_grace_minutes: how late a CronJob's success may be, beyond one schedule period.
    backup_max_age_hours / verify_max_age_hours: newest backup (restore-checked backup) older than
        this is stale; None when the stack has no such CronJob.
    redis_memory_ratio / volume_full_ratio: fractions of maxmemory / capacity that warn.
    runbook_url: where the team reads docs/operations.md (its repository's web view); each
        alert's runbook_url annotation is this plus the section's anchor.
    """

    namespace: str
    availability_slo: float = 0.995
    latency_slo_seconds: float = 0.5
    performance_floor: float | None = None
    cronjob_grace_minutes: int = 60
    backup_max_age_hours: float | None = 26.0
    verify_max_age_hours: float | None = None
    redis_memory_ratio: float = 0.9
    volume_full_ratio: float = 0.85
    runbook_url: str = RUNBOOK_DOC

    def __post_init__(self) -> None:
        if not 0.5 <= self.availability_slo < 1:
            raise ArgError("availability_slo", f"must be a fraction in [0.5, 1), e.g. 0.995, got {self.availability_slo}")
        if self.latency_slo_seconds not in names.LATENCY_BUCKETS:
            raise ArgError("latency_slo_seconds", f"must be a latency bucket bound of the model server, one of "
                                                  f"{', '.join(map(str, names.LATENCY_BUCKETS))}; got {self.latency_slo_seconds}")
        if self.cronjob_grace_minutes < 1:
            raise ArgError("cronjob_grace_minutes", f"must be at least 1, got {self.cronjob_grace_minutes}")

    @property
    def ns(self) -> str:
        return f'namespace="{self.namespace}"'


def _ratio(bad: str, total: str, window: str, by: str = "namespace, service") -> str:
    return f"(sum by ({by}) (rate({bad}[{window}])) / sum by ({by}) (rate({total}[{window}])))"


def _burn_alerts(kind: str, what: str, bad: str, total: str, budget: float, runbook: str) -> list[Alert]:
    """Multiwindow burn-rate alerts: both windows must burn faster than `rate` x the budget."""
    out = []
    for speed, long, short, rate, severity in BURN_WINDOWS:
        threshold = round(rate * budget, 6)
        expr = (f"{_ratio(bad, total, long)} > {threshold}\nand\n{_ratio(bad, total, short)} > {threshold}")
        share = round(100 * rate * (int(long[:-1]) / 24) / SLO_PERIOD_DAYS, 1)
        out.append(Alert(
            f"ModelServer{kind}BudgetBurn{speed}", expr, "2m" if speed == "Fast" else "15m", severity,
            f"{{{{ $labels.service }}}}: {what} burning the {SLO_PERIOD_DAYS}-day error budget {rate}x too fast",
            f"{what.capitalize()} were {{{{ $value | humanizePercentage }}}} of scoring requests over the last {long} "
            f"(and {short}); at this rate {share} % of the month's budget is gone in {long}.",
            runbook))
    return out


def serving_alerts(t: AlertThresholds) -> list[Alert]:
    requests = f'{names.SERVING_REQUESTS}{{{t.ns}, job="{MODEL_SERVER_JOB}", endpoint="invocations"}}'
    errors = requests.replace('endpoint="invocations"', 'endpoint="invocations", status=~"5.."')
    bucket = names.SERVING_LATENCY + "_bucket"
    count = names.SERVING_LATENCY + "_count"
    selector = f'{t.ns}, job="{MODEL_SERVER_JOB}", endpoint="invocations"'
    # Slow = all requests minus those within the bound: rate(count) - rate(bucket{le=bound}).
    slow = f'{count}{{{selector}}}'
    within = f'{bucket}{{{selector}, le="{t.latency_slo_seconds}"}}'
    latency = []
    for speed, long, short, rate, severity in BURN_WINDOWS:
        threshold = round(rate * 0.01, 6)

        def slow_ratio(window: str) -> str:
            return (f"(1 - sum by (namespace, service) (rate({within}[{window}])) / "
                    f"sum by (namespace, service) (rate({slow}[{window}])))")
        latency.append(Alert(
            f"ModelServerLatencyBudgetBurn{speed}", f"{slow_ratio(long)} > {threshold}\nand\n{slow_ratio(short)} > {threshold}",
            "2m" if speed == "Fast" else "15m", severity,
            f"{{{{ $labels.service }}}}: requests slower than {t.latency_slo_seconds}s burning the p99 budget {rate}x too fast",
            f"{{{{ $value | humanizePercentage }}}} of scoring requests took longer than {t.latency_slo_seconds}s over the "
            f"last {long} (and {short}); the SLO allows 1 %.",
            "model-server-slow"))
    server = f'{t.ns}, job="{MODEL_SERVER_JOB}"'
    return [
        *_burn_alerts("Error", "server errors (5xx)", errors, requests, round(1 - t.availability_slo, 6),
                      "model-server-errors"),
        *latency,
        Alert("PredictionLogRowsDropped",
              f"sum by (namespace, service, reason) (increase({names.SERVING_LOG_ROWS_DROPPED}{{{server}}}[10m])) > 0",
              "0m", WARNING,
              "{{ $labels.service }}: scored rows missing from the prediction log ({{ $labels.reason }})",
              "{{ $value | humanize }} scored rows in the last 10 minutes were not written to the prediction log "
              "(reason {{ $labels.reason }}); the drift monitor will not see them.",
              "prediction-log-rows-dropped"),
        Alert("PredictionLogWriterRestarted",
              f"sum by (namespace, service, pod) (increase({names.SERVING_LOG_WRITER_RESTARTS}{{{server}}}[15m])) > 0",
              "5m", WARNING,
              "{{ $labels.pod }}: the prediction-log writer died and was replaced",
              "The writer process died {{ $value | humanize }} times in 15 minutes; rows it held are counted as dropped.",
              "prediction-log-writer-restarted"),
        Alert("ModelVersionLoadFailed",
              f'sum by (namespace, service) (increase({names.SERVING_MODEL_LOADS}{{{server}, outcome="failed"}}[15m])) > 0',
              "0m", WARNING,
              "{{ $labels.service }}: a model version failed to load",
              "The server keeps answering with the version it had (if any); the new version's files or "
              "dependencies are broken.",
              "model-version-load-failed"),
        Alert("NoChampionLoaded",
              f"(up{{{server}}} == 1) unless on (namespace, service, instance) {names.SERVING_MODEL_VERSION}{{{server}}}",
              "10m", CRITICAL,
              "{{ $labels.service }} ({{ $labels.pod }}) runs without a model version",
              "The server is up but has loaded no version: its alias points at nothing loadable, every "
              "scoring request fails.",
              "no-champion-loaded"),
    ]


def batch_alerts(t: AlertThresholds) -> list[Alert]:
    pushed = f'{t.ns}, job="{names.DRIFT_JOB}"'
    out = [
        Alert("DatasetDriftDetected", f"max by (namespace, model) ({names.DRIFT_DATASET_DRIFT}{{{pushed}}}) == 1", "0m",
              WARNING,
              "{{ $labels.model }}: the last interval's inputs drifted from the training data",
              "The drift job found dataset drift; the MLflow run in experiment monitoring/{{ $labels.model }} has "
              "the report and the drifted features.",
              "dataset-drift-detected"),
        Alert("CronJobLate",
              f"(time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{{{t.ns}}}))\n"
              f"> on (namespace, cronjob) (max by (namespace, cronjob) (kube_cronjob_next_schedule_time{{{t.ns}}}"
              f" - kube_cronjob_status_last_schedule_time{{{t.ns}}}) + {t.cronjob_grace_minutes * 60})\n"
              f"and on (namespace, cronjob) (max by (namespace, cronjob) (kube_cronjob_spec_suspend{{{t.ns}}}) == 0)",
              "0m", WARNING,
              "CronJob {{ $labels.cronjob }} has not succeeded for a whole schedule period",
              f"Its last success is {{{{ $value | humanizeDuration }}}} ago: more than one period plus "
              f"{t.cronjob_grace_minutes} minutes.",
              "cronjob-late"),
        Alert("JobFailed", f'max by (namespace, job_name) (kube_job_failed{{{t.ns}, condition="true"}}) == 1', "0m",
              WARNING,
              "Job {{ $labels.job_name }} failed",
              "The Job ran out of retries or hit an exit code its podFailurePolicy fails at once "
              "(the job's --help lists them).",
              "job-failed"),
    ]
    if t.performance_floor is not None:
        out.append(Alert("ModelPerformanceBelowFloor",
                         f"min by (namespace, model) ({names.DRIFT_AUC}{{{pushed}}}) < {t.performance_floor}", "0m",
                         WARNING,
                         "{{ $labels.model }}: AUC {{ $value | printf \"%.3f\" }} under the floor " + str(t.performance_floor),
                         "Measured on the newest interval whose labels have landed.",
                         "model-performance-below-floor"))
    for job, hours, metric, runbook in ((names.BACKUP_JOB, t.backup_max_age_hours, names.BACKUP_NEWEST, "backup-stale"),
                                        (names.VERIFY_JOB, t.verify_max_age_hours, names.BACKUP_NEWEST_VERIFIED,
                                         "backup-verify-stale")):
        if hours is None:
            continue
        what = "written" if job == names.BACKUP_JOB else "restored and checked"
        out.append(Alert(
            "BackupStale" if job == names.BACKUP_JOB else "BackupVerifyStale",
            f'time() - max by (namespace) ({metric}{{{t.ns}, job="{job}"}}) > {int(hours * 3600)}', "0m", CRITICAL,
            f"The newest Postgres backup {what} is {{{{ $value | humanizeDuration }}}} old",
            f"Older than {hours:g} h: the {job} CronJob has not finished a good run since.",
            runbook))
    return out


def _down(name: str, metric: str, job: str, t: AlertThresholds, what: str, runbook: str) -> Alert:
    """Down: every target reports 0, or there is no target at all (a crash-looping pod leaves the
    Service's endpoints; an exporter that is gone takes its `*_up` series with it). `absent` keeps
    the selector's equality labels, so both branches carry namespace and job."""
    selector = f'{metric}{{{t.ns}, job="{job}"}}'
    return Alert(name, f"(max by (namespace, job) ({selector}) == 0) or absent({selector})", "5m", CRITICAL,
                 f"{what} is down", f"No {what} answered a scrape for 5 minutes.", runbook)


def platform_alerts(t: AlertThresholds) -> list[Alert]:
    redis = f'{t.ns}, job="{REDIS_EXPORTER_JOB}"'
    return [
        _down("PostgresDown", "pg_up", POSTGRES_EXPORTER_JOB, t, "Postgres", "postgres-down"),
        _down("RedisDown", "redis_up", REDIS_EXPORTER_JOB, t, "Redis", "redis-down"),
        _down("MlflowDown", "up", MLFLOW_JOB, t, "the MLflow tracking server", "mlflow-down"),
        _down("FeatureServerDown", "up", FEATURE_SERVER_JOB, t, "the Feast feature server", "feature-server-down"),
        Alert("RedisMemoryNearMaxmemory",
              f"max by (namespace) (redis_memory_used_bytes{{{redis}}}) / max by (namespace) "
              f"(redis_memory_max_bytes{{{redis}}} > 0) > {t.redis_memory_ratio}", "10m", WARNING,
              "Redis holds {{ $value | humanizePercentage }} of maxmemory",
              "With noeviction, Redis refuses writes at maxmemory: materialisation then fails.",
              "redis-memory-near-maxmemory"),
        Alert("VolumeFillingUp",
              f"max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes{{{t.ns}}} / "
              f"kubelet_volume_stats_capacity_bytes{{{t.ns}}}) > {t.volume_full_ratio}", "5m", WARNING,
              "PVC {{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full",
              f"Above {t.volume_full_ratio:.0%} of its capacity.",
              "volume-filling-up"),
    ]


def alerts(t: AlertThresholds) -> list[Alert]:
    """Every alert of the platform, in one list; names are unique."""
    table = [*serving_alerts(t), *batch_alerts(t), *platform_alerts(t)]
    seen = [a.name for a in table]
    if len(seen) != len(set(seen)):
        raise ValueError(f"duplicate alert names: {sorted(n for n in set(seen) if seen.count(n) > 1)}")
    return table


def rule_groups(t: AlertThresholds) -> list[dict]:
    """The rules as Prometheus rule groups: what a PrometheusRule's spec.groups and a promtool
    rule file hold."""
    sections = (("mlops-serving", serving_alerts(t)), ("mlops-batch", batch_alerts(t)),
                ("mlops-platform", platform_alerts(t)))
    alerts(t)  # the uniqueness check
    return [{"name": name, "rules": [a.rule(t.runbook_url) for a in group]} for name, group in sections]
