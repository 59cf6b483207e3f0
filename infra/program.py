"""The Pulumi program: settings -> cluster provider -> MlopsPlatform -> stack outputs.

A function rather than module-level code so the offline synth and the unit tests run exactly
what `pulumi up` runs, under the mock engine.
"""

from __future__ import annotations

from typing import Any

import pulumi

from infra.cluster import kubernetes_provider
from infra.settings import load_settings
from platform_components.platform import MlopsPlatform


def deploy() -> dict[str, Any]:
    """Declare the stack's resources and export its outputs; returns the outputs for callers."""
    settings = load_settings()
    provider = kubernetes_provider(settings.cluster)
    platform = MlopsPlatform(
        "mlops", settings.platform, opts=pulumi.ResourceOptions(providers={"kubernetes": provider})
    )
    outputs: dict[str, Any] = {
        "namespace": platform.namespace,
        "mlflowUrl": platform.mlflow_url,
        "mlflowExternalUrl": platform.mlflow_external_url or "",
        "s3Endpoint": platform.s3_endpoint,
        "buckets": list(platform.buckets),
        "redisHost": platform.redis_host,
        "featureServerUrl": platform.feature_server_url,
        # For the post-deploy smoke test; stays encrypted in state and masked in CLI output.
        "mlflowAdminPassword": platform.mlflow_admin_password,
        "secretNames": platform.secret_names,
        "driftCronJobs": platform.drift_cronjobs,
    }
    for name, value in outputs.items():
        pulumi.export(name, value)
    return outputs
