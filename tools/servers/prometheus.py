"""A local Prometheus server (and promtool), built from the Go module proxy by
tools/install/prometheus.sh, for the rule unit tests and the integration tier.

The scrape configuration comes from the same `ScrapeTarget`s the monitoring component renders as
ServiceMonitors (platform_components/scrape_targets.py), with static addresses in place of the
Kubernetes service discovery; the rules are the PrometheusRule's groups.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from mirakuru import HTTPExecutor

from tools.servers.process import (
    CACHE,
    ROOT,
    LocalServer,
    ManagedProcess,
    ServerError,
    free_port,
    log_file,
    scratch_dir,
)

INSTALL_SCRIPT = ROOT / "tools" / "install" / "prometheus.sh"


def release() -> str:
    """The pinned Prometheus release: the install script's RELEASE line, its one source."""
    match = re.search(r"^RELEASE=(\S+)$", INSTALL_SCRIPT.read_text(), re.MULTILINE)
    if not match:
        raise ServerError(f"no RELEASE= line in {INSTALL_SCRIPT}")
    return match.group(1)


def binary(name: str) -> Path:
    """`prometheus` or `promtool` of the pinned release; ServerError naming the install command."""
    path = CACHE / "bin" / f"prometheus-{release()}" / name
    if not path.is_file():
        raise ServerError(f"{name} {release()} not built at {path}: run tools/install/prometheus.sh (make test does)")
    return path


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary("promtool")), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@dataclass
class LocalPrometheus(LocalServer):
    """Prometheus on 127.0.0.1 scraping `scrape_configs` and evaluating `rule_groups` every second."""

    scrape_configs: list[dict]
    rule_groups: list[dict]
    workdir: Path = field(default_factory=lambda: scratch_dir("prometheus"))
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    def write_config(self) -> Path:
        rules = self.workdir / "rules.yml"
        rules.write_text(yaml.safe_dump({"groups": self.rule_groups}, sort_keys=False))
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": self.scrape_configs,
        }, sort_keys=False))
        return config

    def start(self) -> LocalPrometheus:
        config = self.write_config()
        check = promtool("check", "config", str(config))
        if check.returncode != 0:
            raise ServerError(f"promtool rejects the generated config:\n{check.stdout}{check.stderr}")
        command = [str(binary("prometheus")), f"--config.file={config}", f"--storage.tsdb.path={self.workdir / 'data'}",
                   f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"]
        executor = HTTPExecutor(command, url=f"{self.url}/-/ready", method="GET", timeout=60,
                                stdout=log_file(self.workdir, "prometheus"), stderr=subprocess.STDOUT)
        self.process = ManagedProcess("prometheus", executor, self.workdir / "prometheus.log")
        self.process.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params: str) -> dict | list:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise ServerError(f"Prometheus API {path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def alerts(self) -> list[dict]:
        return self.api("alerts")["alerts"]

    def targets(self) -> list[dict]:
        return self.api("targets")["activeTargets"]


def operator_crds() -> Path:
    """The Prometheus Operator's CRD directory (tools/install/prometheus-operator-crds.sh)."""
    result = subprocess.run(["bash", str(ROOT / "tools" / "install" / "prometheus-operator-crds.sh")],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise ServerError(f"prometheus-operator CRDs not fetched: {result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])
