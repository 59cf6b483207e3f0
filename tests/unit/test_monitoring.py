"""The monitoring component under the mock engine: off on dev (nothing added, the minikube budget
kept), and with `monitoringStack: prometheus-operator` every scrape target finds its pods and
port, every batch CronJob reports to the Pushgateway, Prometheus' namespace may reach exactly the
metrics ports, and the rules, dashboards and images are the ones the tests check elsewhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard

from platform_components import images
from platform_components.alert_rules import AlertThresholds, rule_groups
from platform_components.dashboards import dashboards, panel_queries, query_metrics
from tests.unit.conftest import containers, env_of, objects, one, pods, run_with
from tests.unit.test_settings import settings_error
from workloads import metric_names, outcomes

ROOT = Path(__file__).resolve().parents[2]
MONITORED = {"monitoringStack": "prometheus-operator", "driftPerformanceFloor": "0.7"}
# Series other processes export, read by rules or dashboards; each was checked against its source.
EXTERNAL_METRICS = {
    "up": "Prometheus, per target",
    "pg_up": "postgres_exporter",
    "redis_up": "redis_exporter", "redis_memory_used_bytes": "redis_exporter", "redis_memory_max_bytes": "redis_exporter",
    "kube_cronjob_status_last_successful_time": "kube-state-metrics", "kube_cronjob_next_schedule_time": "kube-state-metrics",
    "kube_cronjob_status_last_schedule_time": "kube-state-metrics", "kube_cronjob_spec_suspend": "kube-state-metrics",
    "kube_job_failed": "kube-state-metrics",
    "kubelet_volume_stats_used_bytes": "kubelet", "kubelet_volume_stats_capacity_bytes": "kubelet",
    # prometheus_flask_exporter with MLflow's prefix: scraped from a real MLflow by
    # tests/integration/test_monitoring.py.
    "mlflow_http_request_total": "MLflow", "mlflow_http_request_duration_seconds_bucket": "MLflow",
}


@pytest.fixture
def feast_imported(monkeypatch):
    """feast.metrics, imported with the multiprocess variables it sets at import restored afterwards."""
    import os

    for key in ("PROMETHEUS_MULTIPROCESS_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.setenv(key, os.environ.get(key, "unset"))  # recorded: teardown restores it
        if os.environ[key] == "unset":
            monkeypatch.delenv(key)
    import feast.metrics

    return feast.metrics


@pytest.fixture(scope="module")
def monitored():
    return run_with("dev", **MONITORED)


def test_off_on_dev_adds_nothing():
    run = run_with("dev")
    assert not [m for m in objects(run) if m["apiVersion"].startswith("monitoring.coreos.com/")]
    names = {m["metadata"]["name"] for m in objects(run, "Deployment")}
    assert not names & {"pushgateway", "postgres-exporter", "redis-exporter"}
    for _, pod in pods(run):
        for container in containers(pod):
            assert outcomes.GATEWAY_ENV not in env_of(container)
            assert "--expose-prometheus" not in container.get("command", [])
    assert [c["name"] for c in one(run, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]] == ["mlflow"]


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_every_scrape_target_selects_pods_with_its_named_port(monitored):
    monitors = [m for m in objects(monitored) if m["kind"] in ("ServiceMonitor", "PodMonitor")]
    assert {m["metadata"]["name"] for m in monitors} == {"mlflow", "model-server", "feature-server",
                                                         "postgres-exporter", "redis-exporter", "pushgateway"}
    for monitor in monitors:
        spec = monitor["spec"]
        selector = spec["selector"]["matchLabels"]
        assert spec["namespaceSelector"] == {"matchNames": ["mlops"]}
        if monitor["kind"] == "ServiceMonitor":
            (endpoint,) = spec["endpoints"]
            services = [s for s in objects(monitored, "Service") if _matches(selector, s["metadata"]["labels"])]
            assert services, monitor["metadata"]["name"]
            for service in services:
                assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        else:
            (endpoint,) = spec["podMetricsEndpoints"]
            templates = [m["spec"]["template"] for m in objects(monitored) if m["kind"] in ("Deployment", "StatefulSet")
                         and _matches(selector, m["spec"]["template"]["metadata"]["labels"])]
            assert templates, monitor["metadata"]["name"]
            ports = {p["name"] for t in templates for c in t["spec"]["containers"] for p in c.get("ports", [])}
            assert endpoint["port"] in ports
        assert endpoint["relabelings"] == [{"action": "replace", "targetLabel": "job",
                                            "replacement": monitor["metadata"]["name"]}]
        assert endpoint["honorLabels"] == (monitor["metadata"]["name"] == "pushgateway")
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_every_batch_cronjob_reports_to_the_pushgateway(monitored):
    url = "http://pushgateway.mlops.svc.cluster.local:9091"
    cronjobs = objects(monitored, "CronJob")
    assert {c["metadata"]["name"] for c in cronjobs} >= {"drift-churn", "train-churn", "postgres-backup", "feast-materialize"}
    for cronjob in cronjobs:
        (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert env_of(container)[outcomes.GATEWAY_ENV]["value"] == url, cronjob["metadata"]["name"]
    policies = {p["metadata"]["name"] for p in objects(monitored, "NetworkPolicy")}
    for client in ("drift", "model-training", "postgres-backup", "feast-materialize"):
        assert {f"{client}-to-pushgateway-egress", f"{client}-to-pushgateway-ingress"} <= policies


def test_prometheus_reaches_the_metrics_ports_only(monitored):
    from_prometheus = {}
    for policy in objects(monitored, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                if peer.get("namespaceSelector") == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}:
                    selector = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    from_prometheus[selector] = [p["port"] for p in rule["ports"]]
    assert from_prometheus == {"mlflow": [9102], "model-server": [8080], "feast-server": [8000],
                               "postgres-exporter": [9187], "redis-exporter": [9121], "pushgateway": [9091]}


def test_the_exporters_log_in_as_their_own_least_privileged_identities(monitored):
    exporter = one(monitored, "Deployment", "postgres-exporter")["spec"]["template"]["spec"]["containers"][0]
    user = env_of(exporter)["DATA_SOURCE_USER"]["valueFrom"]["secretKeyRef"]
    assert user["name"].startswith("mlops-postgres-postgres-exporter-")
    (script,) = [c for c in objects(monitored, "ConfigMap") if c["metadata"]["name"].startswith("mlops-postgres-bootstrap-")]
    assert "GRANT pg_monitor TO postgres_exporter;" in script["data"]["bootstrap.sql"]
    redis = one(monitored, "Deployment", "redis-exporter")["spec"]["template"]["spec"]["containers"][0]
    assert env_of(redis)["REDIS_USER"]["value"] == "redis-exporter"
    assert env_of(redis)["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "exporter-password"
    mlflow = one(monitored, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in mlflow] == ["mlflow", "metrics"]
    assert "--expose-prometheus" in mlflow[0]["command"]


def test_the_rule_is_the_alert_table_for_the_stack(monitored):
    (rule,) = objects(monitored, "PrometheusRule")
    thresholds = AlertThresholds("mlops", performance_floor=0.7, backup_max_age_hours=26)
    assert rule["spec"]["groups"] == rule_groups(thresholds)
    assert "ModelPerformanceBelowFloor" in json.dumps(rule["spec"])


def test_dashboards_ship_labelled_and_parse_as_grafana_dashboards(monitored):
    maps = {c["metadata"]["name"]: c for c in objects(monitored, "ConfigMap") if c["metadata"]["name"].startswith("dashboard-")}
    assert set(maps) == {"dashboard-platform-health", "dashboard-served-model", "dashboard-model-quality"}
    for config_map in maps.values():
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        (text,) = config_map["data"].values()
        model = json.loads(text)
        parsed = Dashboard.from_json(model)  # the library's model of a dashboard
        assert parsed.title == model["title"] and parsed.panels and len(parsed.panels) == len(model["panels"])
        assert all(p.get("targets") for p in model["panels"] if p["type"] != "row"), "a panel without a query"
        uids = [p["datasource"]["uid"] for p in model["panels"] if p["type"] != "row"]
        assert set(uids) == {"${datasource}"}


def own_metrics() -> set[str]:
    """What the platform's own processes export: metric_names' constants (histograms with their
    series), checked against the model server's real registry and the outcome HELP table."""
    names = {v for k, v in vars(metric_names).items() if k.isupper() and isinstance(v, str) and v.startswith("mlops_")}
    return names | {f"{metric_names.SERVING_LATENCY}_{suffix}" for suffix in ("bucket", "count", "sum")}


def feast_metrics(feast) -> set[str]:
    """The feature server's metric names, from Feast's own module (histograms with their series)."""
    from prometheus_client import Counter, Gauge, Histogram

    out = set()
    for value in vars(feast).values():
        if isinstance(value, (Counter, Gauge, Histogram)):
            base = value._name
            out |= ({f"{base}_bucket", f"{base}_count", f"{base}_sum"} if isinstance(value, Histogram)
                    else {f"{base}_total"} if isinstance(value, Counter) else {base})
    return out


def test_every_query_reads_a_metric_something_exports(feast_imported):
    from platform_components.alert_rules import alerts

    exported = own_metrics() | feast_metrics(feast_imported) | set(EXTERNAL_METRICS)
    queries = [q for board in dashboards("mlops").values() for q in panel_queries(board)]
    queries += [a.expr for a in alerts(AlertThresholds("mlops", performance_floor=0.7, verify_max_age_hours=192))]
    read = {metric for query in queries for metric in query_metrics(query)}
    assert read - exported == set()
    assert {m for m in read if m.startswith("feast_")}, "the dashboards read the feature server's metrics"


def test_metric_names_match_the_serving_registry_and_the_outcome_table():
    from workloads.serving import metrics

    registered = {c._name for c in vars(metrics).values() if hasattr(c, "_name") and hasattr(c, "_type")}
    serving = {v for k, v in vars(metric_names).items() if k.startswith("SERVING_") and isinstance(v, str)}
    assert {n.removesuffix("_total") for n in serving} == registered
    pushed = {v for k, v in vars(metric_names).items() if k.isupper() and isinstance(v, str)
              and v.startswith("mlops_") and not k.startswith("SERVING_")}
    assert pushed == set(outcomes.HELP)


def test_the_model_server_exports_only_its_own_families(feast_imported, monkeypatch):
    """Feast's client registers feature-server metrics at import; they must not appear as zeros."""
    from workloads.serving import metrics

    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)  # one process: the default registry

    metrics.initialise_labels()
    text = metrics.exposition().decode()
    families = set(re.findall(r"^# TYPE (\S+)", text, re.MULTILINE))
    assert families and all(f.startswith("mlops_serving_") for f in families)
    assert 'mlops_serving_log_rows_dropped_total{reason="buffer_full"} 0.0' in text  # visible before the first drop


def test_query_metrics_reads_names_not_functions_labels_or_keywords():
    expr = ('sum by (namespace, service) (rate(a_total{job="x", le="0.5"}[5m])) / on (service) group_left '
            'histogram_quantile(0.99, b_bucket) and absent(c{d="e"} == 1) unless label_values(f_total, service)')
    assert query_metrics(expr) == {"a_total", "b_bucket", "c", "f_total"}


def test_the_pushgateway_the_tests_build_is_the_image_deployed():
    script = (ROOT / "tools" / "install" / "pushgateway.sh").read_text()
    assert re.search(r"^VERSION=v(\S+)", script, re.MULTILINE).group(1) == images.PUSHGATEWAY_VERSION
    for image in (images.PUSHGATEWAY, images.POSTGRES_EXPORTER, images.REDIS_EXPORTER):
        assert re.search(r":v\d+\.\d+\.\d+$", image), image


@pytest.mark.parametrize(("overrides", "message"), [
    ({"monitoringStack": "datadog"}, "mlops-platform:monitoringStack must be one of none, prometheus-operator"),
    ({"monitoringServingLatencySeconds": "0.3"}, "mlops-platform:monitoringServingLatencySeconds must be a latency bucket"),
    ({"monitoringServingAvailability": "99.5"}, "mlops-platform:monitoringServingAvailability must be a number in [0.5, 1.0)"),
    ({"monitoringPrometheusNamespace": "Monitoring"}, "mlops-platform:monitoringPrometheusNamespace must be a DNS label"),
    ({"monitoringBackupMaxAgeHours": 0}, "mlops-platform:monitoringBackupMaxAgeHours must be at least 1 hour"),
    ({"monitoringResourceLabels": '["release"]'}, "mlops-platform:monitoringResourceLabels must map names to strings"),
], ids=lambda value: str(value)[:40])
def test_bad_monitoring_settings_fail_at_preview_under_their_key(overrides, message):
    assert message in settings_error(**overrides)


@pytest.mark.parametrize("stack", ["qa", "prod", "test"])
def test_stacks_that_create_their_cluster_install_the_pinned_monitoring_stack(stack):
    from infra.monitoring_stack import CHART, CHART_VERSION, RELEASE_NAME, REPOSITORY
    from tests.unit.conftest import _stack_run

    (release,) = _stack_run(stack).of_type("kubernetes:helm.sh/v3:Release")
    inputs = release.inputs
    assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) == (CHART, CHART_VERSION, REPOSITORY)
    assert inputs["name"] == RELEASE_NAME and inputs["namespace"] == "monitoring" and inputs["createNamespace"]
    assert inputs["values"]["grafana"]["sidecar"]["dashboards"]["searchNamespace"] == "ALL"
    rule = [m for m in objects(_stack_run(stack), "PrometheusRule")][0]
    assert rule["metadata"]["labels"]["release"] == RELEASE_NAME


def test_installing_the_monitoring_stack_is_for_clusters_the_stack_creates():
    message = settings_error(monitoringStack="prometheus-operator", monitoringInstallStack=True)
    assert "mlops-platform:monitoringInstallStack installs kube-prometheus-stack only on a cluster the stack creates" in message
