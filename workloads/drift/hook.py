"""The retrain hook: one authenticated POST per drifted interval, retried on transient failures.

Works with the Azure DevOps "Runs - Run Pipeline" REST API (the body carries `templateParameters`;
use `RETRAIN_HOOK_AUTH=basic` with a PAT) and with any webhook that accepts JSON.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass

import requests

from workloads.drift.errors import HookError

__all__ = ["HookError", "RetrainHook"]
log = logging.getLogger("drift.hook")


@dataclass(frozen=True)
class RetrainHook:
    url: str
    token: str
    auth: str = "bearer"  # or "basic" (Azure DevOps personal access token)
    attempts: int = 4
    backoff_seconds: float = 2.0
    timeout_seconds: float = 15.0

    def headers(self) -> dict[str, str]:
        if self.auth == "basic":
            encoded = base64.b64encode(f":{self.token}".encode()).decode()
            return {"Authorization": f"Basic {encoded}"}
        return {"Authorization": f"Bearer {self.token}"}

    def trigger(self, parameters: dict[str, str]) -> int:
        """POST once; retry 5xx, 429 and connection errors with exponential backoff."""
        body = {"templateParameters": parameters}
        for attempt in range(1, self.attempts + 1):
            try:
                response = requests.post(self.url, json=body, headers=self.headers(), timeout=self.timeout_seconds)
            except requests.RequestException as error:
                outcome, retry = f"{error.__class__.__name__}", True
            else:
                if response.status_code < 300:
                    log.info("retrain hook: POST %s -> %s (attempt %d)", self.url, response.status_code, attempt)
                    return response.status_code
                outcome, retry = f"HTTP {response.status_code}", response.status_code >= 500 or response.status_code == 429
            log.warning("retrain hook: POST %s failed: %s (attempt %d of %d)", self.url, outcome, attempt, self.attempts)
            if not retry or attempt == self.attempts:
                raise HookError(f"retrain hook {self.url} failed after {attempt} attempt(s): {outcome}")
            time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise HookError("unreachable")
