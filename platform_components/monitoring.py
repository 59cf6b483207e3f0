"""Monitoring: the platform's health for a Prometheus Operator (kube-prometheus-stack) install.

With `monitoringStack: prometheus-operator` the platform adds, in its own namespace:
- a ServiceMonitor or PodMonitor per scraped server (scrape_targets.py): MLflow's metrics sidecar
  (mlflow_plugin/metrics_exporter.py: MLflow 3's basic-auth app admits only its admin to its own
  /metrics), the model servers, the Feast feature server's metrics port, and the two exporters;
- the Postgres exporter (its own login role, member of `pg_monitor` only) and the Redis exporter
  (its own ACL user allowed INFO, PING, CONFIG GET and the like, no key access), each a Deployment;
- a Pushgateway the batch Jobs push their outcomes to (workloads/outcomes.py);
- a PrometheusRule with the alert table (alert_rules.py) and the dashboards as ConfigMaps with
  the Grafana sidecar's label (dashboards.py).
Prometheus itself, Alertmanager, Grafana and kube-state-metrics are the monitoring stack's
(docs/operations.md, "Monitoring"). With `none` (the dev default) none of this exists.

`pushgateway_args`, `postgres_exporter_env` and `redis_exporter_env` are the single source of
truth for those containers; the Pushgateway the tests run takes the same arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from platform_components import images
from platform_components.alert_rules import (
    FEATURE_SERVER_JOB,
    MLFLOW_JOB,
    MODEL_SERVER_JOB,
    POSTGRES_EXPORTER_JOB,
    PUSHGATEWAY_JOB,
    REDIS_EXPORTER_JOB,
    AlertThresholds,
    rule_groups,
)
from platform_components.dashboards import SIDECAR_LABEL, dashboards
from platform_components.feature_store import METRICS_PORT_NAME
from platform_components.k8s import (
    Manifest,
    Placement,
    Resources,
    empty_dir,
    http_probe,
    pod_spec,
    replicated_server,
    secret_env,
    selector_labels,
    server_container,
)
from platform_components.mlflow_server import METRICS_PORT_NAME as MLFLOW_METRICS_PORT_NAME
from platform_components.network_plan import Peer
from platform_components.registration import register_objects
from platform_components.scrape_targets import ScrapeTarget
from platform_components.stack_keys import setting
from platform_components.validation import ArgError, require_dns_label, require_one_of

STACKS = ("none", "prometheus-operator")
MONITORING_API = "monitoring.coreos.com/v1"
PUSHGATEWAY_PORT = 9091
POSTGRES_EXPORTER_PORT = 9187
REDIS_EXPORTER_PORT = 9121
POSTGRES_EXPORTER_ROLE = "postgres_exporter"
REDIS_EXPORTER_USER = "redis-exporter"
EXPORTER_RESOURCES = Resources("10m", "32Mi", "64Mi")
PUSHGATEWAY_RESOURCES = Resources("10m", "32Mi", "128Mi")
PUSHGATEWAY_DATA = "/data"


def _fraction(field_name: str, value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low <= number < high:
        raise ArgError(field_name, f"must be a number in [{low}, {high}), got {value!r}")
    return number


@dataclass(frozen=True)
class MonitoringOptions:
    """What a stack tunes (config keys `monitoring*`)."""

    stack: str = setting("monitoringStack")
    prometheus_namespace: str = setting("monitoringPrometheusNamespace")
    resource_labels: dict[str, str] = setting("monitoringResourceLabels")
    runbook_url: str = setting("monitoringRunbookUrl")
    serving_availability: str = setting("monitoringServingAvailability")
    serving_latency_seconds: str = setting("monitoringServingLatencySeconds")
    cronjob_grace_minutes: int = setting("monitoringCronJobGraceMinutes")
    backup_max_age_hours: int = setting("monitoringBackupMaxAgeHours")
    verify_max_age_hours: int = setting("monitoringVerifyMaxAgeHours")

    def __post_init__(self) -> None:
        require_one_of("stack", self.stack, STACKS)
        require_dns_label("prometheus_namespace", self.prometheus_namespace)
        if not isinstance(self.resource_labels, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.resource_labels.items()):
            raise ArgError("resource_labels", f"must map label names to string values, got {self.resource_labels!r}")
        _fraction("serving_availability", self.serving_availability, 0.5, 1.0)
        _fraction("serving_latency_seconds", self.serving_latency_seconds, 0.0, float("inf"))
        for name in ("backup_max_age_hours", "verify_max_age_hours"):
            if getattr(self, name) < 1:
                raise ArgError(name, f"must be at least 1 hour, got {getattr(self, name)}")
        self.thresholds("validation", None, verify_scheduled=True)  # the rest of the rules' checks

    @property
    def enabled(self) -> bool:
        return self.stack != "none"

    def thresholds(self, namespace: str, performance_floor: str | None, *, verify_scheduled: bool) -> AlertThresholds:
        """The alert thresholds; ArgError names the setting at fault."""
        try:
            return AlertThresholds(
                namespace, availability_slo=float(self.serving_availability),
                latency_slo_seconds=float(self.serving_latency_seconds),
                performance_floor=float(performance_floor) if performance_floor else None,
                cronjob_grace_minutes=self.cronjob_grace_minutes, backup_max_age_hours=self.backup_max_age_hours,
                verify_max_age_hours=self.verify_max_age_hours if verify_scheduled else None,
                runbook_url=self.runbook_url)
        except ArgError as error:
            key = {"availability_slo": "serving_availability", "latency_slo_seconds": "serving_latency_seconds"}
            raise ArgError(key.get(error.field, error.field), error.message) from None


def pushgateway_url(placement: Placement) -> str:
    """The Pushgateway's Service URL (the Deployment and Service are named `pushgateway`)."""
    return placement.service_url("pushgateway", PUSHGATEWAY_PORT)


def pushgateway_args(port: int = PUSHGATEWAY_PORT, data_dir: str = PUSHGATEWAY_DATA) -> list[str]:
    """Pushed groups survive a container restart in `data_dir` (written every minute)."""
    return [f"--web.listen-address=:{port}", f"--persistence.file={data_dir}/pushgateway.metrics",
            "--persistence.interval=1m"]


def postgres_exporter_env(host: str, port: int, sslmode: str | None, secret: pulumi.Input[str]) -> list[Manifest]:
    """postgres_exporter's connection (DATA_SOURCE_* variables), as its own `pg_monitor` role."""
    return [
        {"name": "DATA_SOURCE_URI", "value": f"{host}:{port}/postgres?sslmode={sslmode or 'disable'}"},
        secret_env("DATA_SOURCE_USER", secret, "username"),
        secret_env("DATA_SOURCE_PASS", secret, "password"),
    ]


def redis_exporter_env(host: str, port: int, secret: pulumi.Input[str]) -> list[Manifest]:
    """redis_exporter's connection, as the ACL user REDIS_EXPORTER_USER."""
    return [
        {"name": "REDIS_ADDR", "value": f"redis://{host}:{port}"},
        {"name": "REDIS_USER", "value": REDIS_EXPORTER_USER},
        secret_env("REDIS_PASSWORD", secret, "exporter-password"),
    ]


@dataclass(frozen=True)
class MonitoredServers:
    """Where the platform's servers are, and the Secrets the exporters and scrapes log in with."""

    postgres_host: str
    postgres_port: int
    postgres_sslmode: str | None
    postgres_exporter_secret: pulumi.Input[str]  # keys username / password: the pg_monitor role
    redis_host: str
    redis_port: int
    redis_secret: pulumi.Input[str]  # key exporter-password: the Redis exporter's ACL password
    mlflow_selector: dict[str, str]
    feature_server_selector: dict[str, str]
    model_server_selector: dict[str, str] | None  # None: no model served


@dataclass(frozen=True)
class MonitoringArgs:
    placement: Placement
    options: MonitoringOptions
    thresholds: AlertThresholds
    servers: MonitoredServers
    pushgateway_image: str = images.PUSHGATEWAY
    postgres_exporter_image: str = images.POSTGRES_EXPORTER
    redis_exporter_image: str = images.REDIS_EXPORTER


def scrape_targets(servers: MonitoredServers, instance: str) -> list[ScrapeTarget]:
    """Every target Prometheus scrapes, in the platform's namespace."""
    targets = [
        ScrapeTarget(MLFLOW_JOB, servers.mlflow_selector, MLFLOW_METRICS_PORT_NAME, pod_monitor=True),
        ScrapeTarget(FEATURE_SERVER_JOB, servers.feature_server_selector, METRICS_PORT_NAME, pod_monitor=True),
        ScrapeTarget(POSTGRES_EXPORTER_JOB, selector_labels("postgres-exporter", instance), "metrics"),
        ScrapeTarget(REDIS_EXPORTER_JOB, selector_labels("redis-exporter", instance), "metrics"),
        ScrapeTarget(PUSHGATEWAY_JOB, selector_labels("pushgateway", instance), "http", honor_labels=True),
    ]
    if servers.model_server_selector:
        targets.append(ScrapeTarget(MODEL_SERVER_JOB, servers.model_server_selector, "http"))
    return targets


def _server(args: MonitoringArgs, name: str, instance: str, component: str, *, image: str, port_name: str, port: int,
            probe_path: str, resources: Resources, env: list[Manifest] | None = None, cli_args: list[str] | None = None,
            volumes: list[Manifest] | None = None, mounts: list[Manifest] | None = None) -> dict[str, Manifest]:
    placement = args.placement
    selector = selector_labels(name, instance)
    container = server_container(name=name, image=image, resources=resources, port_name=port_name, port=port,
                                 probe=http_probe(probe_path, port_name), startup_budget_seconds=60,
                                 env=env, args=cli_args, volume_mounts=[*(mounts or []), {"name": "tmp", "mountPath": "/tmp"}])
    pod = pod_spec(identity=placement.identity, containers=[container], volumes=[*(volumes or []), empty_dir("tmp", "16Mi")])
    return replicated_server(placement, name=name, meta_labels=placement.labels(name, instance, component),
                             selector=selector, pod=pod, replicas=1, port_name=port_name, port=port)


def exporter_objects(args: MonitoringArgs, instance: str) -> dict[str, dict[str, Manifest]]:
    """The Pushgateway and the two exporters, by name: each a Deployment and its Service."""
    servers = args.servers
    return {
        "pushgateway": _server(
            args, "pushgateway", instance, "batch-metrics", image=args.pushgateway_image, port_name="http",
            port=PUSHGATEWAY_PORT, probe_path="/-/ready", resources=PUSHGATEWAY_RESOURCES, cli_args=pushgateway_args(),
            volumes=[empty_dir("data", "64Mi")], mounts=[{"name": "data", "mountPath": PUSHGATEWAY_DATA}]),
        "postgres-exporter": _server(
            args, "postgres-exporter", instance, "metrics-exporter", image=args.postgres_exporter_image,
            port_name="metrics", port=POSTGRES_EXPORTER_PORT, probe_path="/", resources=EXPORTER_RESOURCES,
            env=postgres_exporter_env(servers.postgres_host, servers.postgres_port, servers.postgres_sslmode,
                                      servers.postgres_exporter_secret)),
        "redis-exporter": _server(
            args, "redis-exporter", instance, "metrics-exporter", image=args.redis_exporter_image,
            port_name="metrics", port=REDIS_EXPORTER_PORT, probe_path="/health", resources=EXPORTER_RESOURCES,
            env=redis_exporter_env(servers.redis_host, servers.redis_port, servers.redis_secret)),
    }


def dashboard_config_maps(placement: Placement, labels: dict[str, str]) -> dict[str, Manifest]:
    """One ConfigMap per dashboard, labelled for kube-prometheus-stack's Grafana sidecar."""
    return {name: {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": placement.metadata({**labels, **SIDECAR_LABEL}, f"dashboard-{name}"),
                   "data": {f"mlops-{name}.json": json.dumps(model, indent=1, sort_keys=True)}}
            for name, model in dashboards(placement.namespace).items()}


class Monitoring(pulumi.ComponentResource):
    """The platform's monitors, exporters, Pushgateway, alert rules and dashboards (module doc).

    Outputs: `pushgateway_url` (what the batch Jobs push to), the `peers` the network plan opens
    to the exporters and the Pushgateway, and `selectors` of the exporters' pods."""

    pushgateway_url: str
    pushgateway_peer: Peer
    postgres_exporter_selector: dict[str, str]
    redis_exporter_selector: dict[str, str]
    scrape_targets: list[ScrapeTarget]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:Monitoring", name, None, opts)
        placement = args.placement
        child = pulumi.ResourceOptions(parent=self)
        self.pushgateway_url = pushgateway_url(placement)
        self.pushgateway_peer = Peer("pushgateway", selector=selector_labels("pushgateway", name),
                                     port=PUSHGATEWAY_PORT)
        self.postgres_exporter_selector = selector_labels("postgres-exporter", name)
        self.redis_exporter_selector = selector_labels("redis-exporter", name)
        for server, objects in exporter_objects(args, name).items():
            register_objects(f"{name}-{server}", objects, parent=self)
        labels = {**placement.labels("monitoring", name, "monitoring"), **args.options.resource_labels}
        self.scrape_targets = scrape_targets(args.servers, name)
        for target in self.scrape_targets:
            k8s.apiextensions.CustomResource(
                f"{name}-{target.job}", api_version=MONITORING_API, kind=target.kind,
                metadata=placement.metadata(labels, target.job), spec=target.monitor_spec(placement.namespace),
                opts=child)
        k8s.apiextensions.CustomResource(
            f"{name}-rules", api_version=MONITORING_API, kind="PrometheusRule",
            metadata=placement.metadata(labels, "mlops-platform"), spec={"groups": rule_groups(args.thresholds)},
            opts=child)
        for dashboard_name, config_map in dashboard_config_maps(placement, labels).items():
            k8s.core.v1.ConfigMap(f"{name}-dashboard-{dashboard_name}", metadata=config_map["metadata"],
                                  data=config_map["data"], opts=child)
        self.register_outputs({"pushgateway_url": self.pushgateway_url})

