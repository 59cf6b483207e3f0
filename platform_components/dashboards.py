"""Grafana dashboards as code (grafana-foundation-sdk), shipped as ConfigMaps that
kube-prometheus-stack's Grafana sidecar loads (label `grafana_dashboard: "1"`). Pure data.

Three dashboards per platform namespace:
- platform health: every server up, Redis memory, volumes, CronJobs' last success, failed Jobs,
  backups' age, MLflow's and the feature server's traffic;
- served model (one per `service` variable): traffic, latency, errors, version, prediction-log
  rows logged and dropped, writer restarts and version loads;
- model quality (one per `model` variable): dataset drift per interval, drifted features, the
  smallest corrected p-value, AUC with its floor, training gate decisions and champion version.

Every query reads a metric that a platform process exports (metric_names, MLflow's and Feast's
exporters, the Postgres and Redis exporters, kube-state-metrics, the kubelet): `query_metrics`
lists them and a unit test checks each against what those exporters really export.
"""

from __future__ import annotations

import json
import re

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from platform_components.alert_rules import (
    FEATURE_SERVER_JOB,
    MLFLOW_JOB,
    MODEL_SERVER_JOB,
    POSTGRES_EXPORTER_JOB,
    PUSHGATEWAY_JOB,
    REDIS_EXPORTER_JOB,
)
from workloads import metric_names as names

SIDECAR_LABEL = {"grafana_dashboard": "1"}  # kube-prometheus-stack: grafana.sidecar.dashboards.label
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
HEALTH, SERVING, QUALITY = "platform-health", "served-model", "model-quality"


def _query(expr: str, legend: str, ref: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)


def _series(title: str, unit: str, *queries: tuple[str, str], width: int = 12, description: str = "") -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(width)
    if description:
        panel = panel.description(description)
    for i, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + i)))
    return panel


def _stat(title: str, unit: str, expr: str, legend: str, width: int = 6) -> stat.Panel:
    return (stat.Panel().title(title).unit(unit).datasource(DATASOURCE).height(4).span(width)
            .with_target(_query(expr, legend, "A")))


def _base(title: str, uid: str, namespace: str) -> dashboard.Dashboard:
    return (dashboard.Dashboard(title).uid(f"mlops-{namespace}-{uid}"[:40]).tags(["mlops", namespace])
            .refresh("1m").time("now-24h", "now").timezone("utc")
            .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus")))


def health_dashboard(namespace: str) -> dashboard.Dashboard:
    ns = f'namespace="{namespace}"'

    def up(job: str) -> str:
        return f'sum(up{{{ns}, job="{job}"}})'
    return (
        _base(f"MLOps platform health ({namespace})", HEALTH, namespace)
        .with_row(dashboard.Row("Servers up (targets answering)"))
        .with_panel(_stat("MLflow", "none", up(MLFLOW_JOB), "up"))
        .with_panel(_stat("Feature server", "none", up(FEATURE_SERVER_JOB), "up"))
        .with_panel(_stat("Model servers", "none", up(MODEL_SERVER_JOB), "up"))
        .with_panel(_stat("Pushgateway", "none", up(PUSHGATEWAY_JOB), "up"))
        .with_panel(_stat("Postgres", "none", f'max(pg_up{{{ns}, job="{POSTGRES_EXPORTER_JOB}"}})', "up"))
        .with_panel(_stat("Redis", "none", f'max(redis_up{{{ns}, job="{REDIS_EXPORTER_JOB}"}})', "up"))
        .with_panel(_stat("Newest backup age", "s", f'time() - max({names.BACKUP_NEWEST}{{{ns}}})', "age"))
        .with_panel(_stat("Newest restore-checked backup age", "s",
                          f'time() - max({names.BACKUP_NEWEST_VERIFIED}{{{ns}}})', "age"))
        .with_row(dashboard.Row("Capacity"))
        .with_panel(_series("Redis memory (share of maxmemory)", "percentunit",
                            (f'max(redis_memory_used_bytes{{{ns}}}) / max(redis_memory_max_bytes{{{ns}}} > 0)', "used")))
        .with_panel(_series("Volumes (share of capacity)", "percentunit",
                            (f"max by (persistentvolumeclaim) (kubelet_volume_stats_used_bytes{{{ns}}} / "
                             f"kubelet_volume_stats_capacity_bytes{{{ns}}})", "{{persistentvolumeclaim}}")))
        .with_row(dashboard.Row("Batch jobs"))
        .with_panel(_series("Time since each CronJob last succeeded", "s",
                            (f"time() - max by (cronjob) (kube_cronjob_status_last_successful_time{{{ns}}})", "{{cronjob}}")))
        .with_panel(_series("Failed Jobs", "none",
                            (f'sum by (job_name) (kube_job_failed{{{ns}, condition="true"}})', "{{job_name}}")))
        .with_panel(_series("Last run's exit code", "none",
                            (f"max by (job, model) ({names.JOB_EXIT_CODE}{{{ns}}})", "{{job}} {{model}}")))
        .with_panel(_series("Last run's duration", "s",
                            (f"max by (job, model) ({names.JOB_DURATION}{{{ns}}})", "{{job}} {{model}}")))
        .with_row(dashboard.Row("MLflow and the feature server"))
        .with_panel(_series("MLflow requests by status", "reqps",
                            (f'sum by (status) (rate(mlflow_http_request_total{{{ns}, job="{MLFLOW_JOB}"}}[5m]))',
                             "{{status}}")))
        .with_panel(_series("MLflow p99 latency", "s",
                            (f'histogram_quantile(0.99, sum by (le) (rate(mlflow_http_request_duration_seconds_bucket'
                             f'{{{ns}, job="{MLFLOW_JOB}"}}[5m])))', "p99")))
        .with_panel(_series("Feature server requests by status", "reqps",
                            (f'sum by (status) (rate(feast_feature_server_request_total{{{ns}, job="{FEATURE_SERVER_JOB}"}}[5m]))',
                             "{{status}}")))
        .with_panel(_series("Feature server p99 latency", "s",
                            (f'histogram_quantile(0.99, sum by (le) (rate(feast_feature_server_request_latency_seconds_bucket'
                             f'{{{ns}, job="{FEATURE_SERVER_JOB}"}}[5m])))', "p99")))
    )


def serving_dashboard(namespace: str) -> dashboard.Dashboard:
    sel = f'namespace="{namespace}", job="{MODEL_SERVER_JOB}", service="$service"'
    scoring = f'{sel}, endpoint="invocations"'
    service = (dashboard.QueryVariable("service").label("Model server").datasource(DATASOURCE)
               .query(f'label_values({names.SERVING_REQUESTS}{{namespace="{namespace}", job="{MODEL_SERVER_JOB}"}}, service)'))
    return (
        _base(f"Served model ({namespace})", SERVING, namespace).with_variable(service)
        .with_row(dashboard.Row("Traffic and errors"))
        .with_panel(_series("Scoring requests by status", "reqps",
                            (f"sum by (status) (rate({names.SERVING_REQUESTS}{{{scoring}}}[5m]))", "{{status}}")))
        .with_panel(_series("Server error ratio (5xx)", "percentunit",
                            (f'sum(rate({names.SERVING_REQUESTS}{{{scoring}, status=~"5.."}}[5m])) / '
                             f"sum(rate({names.SERVING_REQUESTS}{{{scoring}}}[5m]))", "5xx share")))
        .with_panel(_series("Latency", "s", *(
            (f"histogram_quantile({q}, sum by (le) (rate({names.SERVING_LATENCY}_bucket{{{scoring}}}[5m])))", f"p{int(q * 100)}")
            for q in (0.5, 0.99))))
        .with_panel(_series("Version served (per worker)", "none",
                            (f"max by (pod, model) ({names.SERVING_MODEL_VERSION}{{{sel}}})", "{{pod}} {{model}}")))
        .with_row(dashboard.Row("Prediction log"))
        .with_panel(_series("Rows scored and logged", "rowsps",
                            (f"sum(rate({names.SERVING_ROWS_SCORED}{{{sel}}}[5m]))", "scored"),
                            (f"sum(rate({names.SERVING_ROWS_LOGGED}{{{sel}}}[5m]))", "logged")))
        .with_panel(_series("Rows dropped by reason", "rowsps",
                            (f"sum by (reason) (rate({names.SERVING_LOG_ROWS_DROPPED}{{{sel}}}[5m]))", "{{reason}}")))
        .with_panel(_series("Values logged as null, by column", "none",
                            (f"sum by (column) (increase({names.SERVING_LOG_VALUES_NULLED}{{{sel}}}[1h]))", "{{column}}")))
        .with_panel(_series("Writer restarts, failed flushes, version loads", "none",
                            (f"sum(increase({names.SERVING_LOG_WRITER_RESTARTS}{{{sel}}}[1h]))", "writer restarts"),
                            (f"sum(increase({names.SERVING_LOG_FLUSH_FAILURES}{{{sel}}}[1h]))", "failed flushes"),
                            (f"sum by (outcome) (increase({names.SERVING_MODEL_LOADS}{{{sel}}}[1h]))", "loads {{outcome}}")))
    )


def quality_dashboard(namespace: str) -> dashboard.Dashboard:
    drift = f'namespace="{namespace}", job="{names.DRIFT_JOB}", model="$model"'
    training = f'namespace="{namespace}", job="{names.TRAINING_JOB}", model="$model"'
    model = (dashboard.QueryVariable("model").label("Model").datasource(DATASOURCE)
             .query(f'label_values({names.JOB_LAST_RUN}{{namespace="{namespace}"}}, model)'))
    return (
        _base(f"Model quality ({namespace})", QUALITY, namespace).with_variable(model)
        .with_row(dashboard.Row("Data drift (one drift run per interval)"))
        .with_panel(_series("Dataset drift (1 = drifted)", "none",
                            (f"max({names.DRIFT_DATASET_DRIFT}{{{drift}}})", "dataset drift")))
        .with_panel(_series("Drifted and tested features", "none",
                            (f"max({names.DRIFT_DRIFTED_FEATURES}{{{drift}}})", "drifted"),
                            (f"max({names.DRIFT_TESTED_FEATURES}{{{drift}}})", "tested")))
        .with_panel(_series("Smallest corrected p-value of the family", "none",
                            (f"min({names.DRIFT_MIN_P_VALUE}{{{drift}}})", "min adjusted p")))
        .with_panel(_series("AUC on labelled intervals, and its floor", "none",
                            (f"min({names.DRIFT_AUC}{{{drift}}})", "AUC"),
                            (f"min({names.DRIFT_PERFORMANCE_FLOOR}{{{drift}}})", "floor")))
        .with_row(dashboard.Row("Continuous training"))
        .with_panel(_series("Gate decision (1 = challenger promoted)", "none",
                            (f"max({names.TRAINING_PROMOTED}{{{training}}})", "promoted")))
        .with_panel(_series("Champion version", "none",
                            (f"max({names.TRAINING_CHAMPION_VERSION}{{{training}}})", "champion")))
        .with_panel(_series("Time since the model's jobs last succeeded", "s",
                            (f'time() - max by (job) ({names.JOB_LAST_SUCCESS}{{namespace="{namespace}", model="$model"}})',
                             "{{job}}")))
    )


def dashboards(namespace: str) -> dict[str, dict]:
    """Each dashboard's JSON model (as Grafana stores it), by short name."""
    built = {HEALTH: health_dashboard(namespace), SERVING: serving_dashboard(namespace),
             QUALITY: quality_dashboard(namespace)}
    return {name: json.loads(json.dumps(board.build(), cls=JSONEncoder)) for name, board in built.items()}


def panel_queries(model: dict) -> list[str]:
    """Every PromQL expression of a dashboard: its panels' targets and its query variables."""
    exprs = [t["expr"] for p in model.get("panels", []) for t in p.get("targets", []) if t.get("expr")]
    exprs += [v["query"] for v in model.get("templating", {}).get("list", []) if v.get("type") == "query"]
    return exprs


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
             "inf", "nan"}


def query_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions, keywords,
    label names (inside {} or the parentheses of by/on/without/ignoring) or Grafana variables."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\blabel_values\s*\(([^,()]*),[^)]*\)", r"\1", text)  # Grafana's: (metric, label)
    text = re.sub(r"\$\w+", " ", text)
    identifiers = re.findall(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", text)
    return {name for name in identifiers if name.lower() not in _KEYWORDS}
