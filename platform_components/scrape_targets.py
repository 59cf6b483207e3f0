"""What Prometheus scrapes, described once: the monitoring component renders each `ScrapeTarget` as
a Prometheus Operator ServiceMonitor or PodMonitor, and the integration tier as a static scrape
config for a local Prometheus (tools/servers/prometheus.py). Pure data, no Pulumi.

Every target sets the `job` label to its fixed name (alert_rules.SCRAPE_JOBS), whatever the
Service or PodMonitor is called, so the rules and dashboards select `job="model-server"` and tell
models apart by the `service` label the operator adds (the Service's name, `model-<name>`).
Ref: https://prometheus-operator.dev/docs/api-reference/api/ (ServiceMonitor, PodMonitor, Endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass

Labels = dict[str, str]
INTERVAL = "30s"


@dataclass(frozen=True)
class ScrapeTarget:
    """Pods serving Prometheus' text format.

    job: the `job` label of every series scraped from them.
    selector: labels of the Services (ServiceMonitor) or pods (PodMonitor) to scrape.
    port: the name of the Service port (ServiceMonitor) or container port (PodMonitor).
    pod_monitor: scrape the pods directly (a metrics port the Service does not expose).
    honor_labels: keep the scraped `job`/`instance` labels (the Pushgateway's pushed groups).
    """

    job: str
    selector: Labels
    port: str
    path: str = "/metrics"
    pod_monitor: bool = False
    honor_labels: bool = False

    @property
    def kind(self) -> str:
        return "PodMonitor" if self.pod_monitor else "ServiceMonitor"

    def monitor_spec(self, namespace: str) -> dict:
        """spec of the ServiceMonitor or PodMonitor (monitoring.coreos.com/v1)."""
        endpoint: dict = {"port": self.port, "path": self.path, "interval": INTERVAL, "scheme": "http",
                          "honorLabels": self.honor_labels,
                          "relabelings": [{"action": "replace", "targetLabel": "job", "replacement": self.job}]}
        endpoints = "podMetricsEndpoints" if self.pod_monitor else "endpoints"
        return {"selector": {"matchLabels": dict(self.selector)}, "namespaceSelector": {"matchNames": [namespace]},
                endpoints: [endpoint]}

    def static_config(self, address: str, labels: Labels) -> dict:
        """A scrape config for a Prometheus without Kubernetes discovery: `address` (host:port) with
        the labels discovery would have added (namespace, service, pod)."""
        config: dict = {"job_name": f"{self.job}-{address}", "metrics_path": self.path, "scheme": "http",
                        "honor_labels": self.honor_labels,
                        "static_configs": [{"targets": [address], "labels": {**labels, "job": self.job}}]}
        return config
