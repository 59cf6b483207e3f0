"""The model server's settings: given on the command line, handed to worker processes as JSON."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass

from workloads.serving.errors import ServingConfigError

ENV = "MLOPS_SERVING_SETTINGS"


@dataclass(frozen=True)
class ServingSettings:
    model: str
    alias: str = "champion"
    poll_seconds: float = 30.0  # how often the alias is checked for a new version
    feature_server_url: str | None = None  # entity-keyed requests need it
    log_bucket: str | None = "monitoring"  # None: no prediction log
    s3_endpoint: str | None = None  # default: boto3's (AWS_ENDPOINT_URL)
    flush_rows: int = 50_000  # at most max_log_rows / 2 (fewer, larger files; the bound keeps room)
    flush_seconds: float = 10.0
    max_log_rows: int = 100_000
    shutdown_seconds: float = 20.0  # to finish requests, then again to flush the log, on SIGTERM
    download_dir: str = tempfile.gettempdir()

    def __post_init__(self) -> None:
        for name in ("poll_seconds", "flush_seconds", "shutdown_seconds"):
            if getattr(self, name) <= 0:
                raise ServingConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("flush_rows", "max_log_rows"):
            if getattr(self, name) < 1:
                raise ServingConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.flush_rows > self.max_log_rows // 2:
            object.__setattr__(self, "flush_rows", max(1, self.max_log_rows // 2))

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServingSettings:
        try:
            return cls(**json.loads(os.environ[ENV]))
        except KeyError:
            raise ServingConfigError(f"{ENV} is not set: start the server with `python -m workloads.serving serve`") from None
