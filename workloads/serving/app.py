"""The model server's ASGI app: MLflow's scoring endpoints around a swappable model version.

Endpoints, as `mlflow models serve` has them: `/ping` and `/health` (200 once a version is
loaded and the prediction log can take rows, 503 otherwise: the readiness probe), `/version`
(MLflow's), `/invocations`; plus `/metrics` (Prometheus). Errors keep MLflow's shape
(`error_code`, `message`) without the stack trace MLflow adds to a model's unexpected failure:
that goes to the server's log, under the request's ID. Each worker process builds one app with its own model, feature-server
session and prediction log; the lifespan starts the alias poller and the log flusher, and on
shutdown (SIGTERM) flushes the log after the last request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
import traceback
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, TEMPORARILY_UNAVAILABLE
from mlflow.version import VERSION
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.background import BackgroundTask

from workloads.serving import metrics
from workloads.serving.features import FeatureLookup
from workloads.serving.log_writer import WriterConfig
from workloads.serving.model import LoadedModel, ModelHolder
from workloads.serving.prediction_log import PredictionLog
from workloads.serving.scoring import Scored, score
from workloads.serving.settings import ServingSettings

log = logging.getLogger("serving")
FIRST_LOAD_WAIT_SECONDS = 30.0


def mlflow_client():
    from mlflow.tracking import MlflowClient

    return MlflowClient()


def error_response(error: MlflowException, request_id: str) -> Response:
    """MLflow's error body, less `stack_trace` (server paths and code): logged here instead."""
    body = json.loads(error.serialize_as_json())
    trace = body.pop("stack_trace", None)
    if trace:
        log.error("request %s failed: %s\n%s", request_id, error.message, trace)
    return Response(json.dumps(body), status_code=error.get_http_status_code(), media_type="application/json",
                    headers={"X-Request-ID": request_id})


def stop_worker() -> None:
    """Stop this worker gracefully, as SIGTERM does: uvicorn's supervisor (several workers) or
    Kubernetes (one) starts a fresh one."""
    os.kill(os.getpid(), signal.SIGTERM)


class Server:
    """What one worker serves with: the model holder, the feature lookup and the prediction log."""

    def __init__(self, settings: ServingSettings):
        self.settings = settings
        self.holder = ModelHolder(settings.model, settings.alias, mlflow_client, Path(settings.download_dir),
                                  settings.poll_seconds)
        self.lookup = FeatureLookup(settings.feature_server_url) if settings.feature_server_url else None
        writer = WriterConfig(settings.model, settings.log_bucket or "", settings.s3_endpoint, settings.flush_rows,
                              settings.flush_seconds, settings.shutdown_seconds)
        self.log = PredictionLog(writer, max_rows=settings.max_log_rows, on_give_up=stop_worker) \
            if settings.log_bucket else None

    @property
    def ready(self) -> bool:
        """A version is loaded, and scored rows can reach the prediction log (when there is one)."""
        return self.holder.current is not None and (self.log is None or self.log.accepting)

    def start(self) -> None:
        self.holder.start()
        if self.log:
            self.log.start()

    def stop(self) -> None:
        self.holder.stop()
        if self.log:
            self.log.close()

    async def invocations(self, request: Request) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        model = self.holder.current
        if model is None:
            # With several workers the pod turns ready once one of them has loaded the version;
            # a request reaching another one waits for its own load (seconds) rather than failing.
            model = await asyncio.to_thread(self.holder.wait_loaded, FIRST_LOAD_WAIT_SECONDS)
        if model is None:
            reason = self.holder.last_error or "loading"
            return error_response(MlflowException(f"no version of {self.settings.model}@{self.settings.alias} "
                                                  f"is loaded yet ({reason})", TEMPORARILY_UNAVAILABLE), request_id)
        body, content_type = await request.body(), request.headers.get("content-type")
        try:
            scored = await asyncio.to_thread(score, body, content_type, model, self.lookup)
        except MlflowException as error:
            return error_response(error, request_id)
        except Exception:  # a bug of ours: MLflow's shape, the details in the log only
            return error_response(MlflowException(f"internal error (request {request_id})", INTERNAL_ERROR,
                                                  stack_trace=traceback.format_exc()), request_id)
        logging_rows = None
        if scored.features is not None:
            metrics.ROWS_SCORED.inc(len(scored.features))
            if self.log:
                logging_rows = BackgroundTask(self._log_rows, scored, request_id, datetime.now(UTC), model)
        return Response(scored.response, status_code=scored.status, media_type=scored.mimetype,
                        headers={"X-Request-ID": request_id}, background=logging_rows)

    async def _log_rows(self, scored: Scored, request_id: str, timestamp: datetime, model: LoadedModel) -> None:
        """Hand the rows to the prediction log once the response is sent (a coroutine, so Starlette
        runs it in the event loop rather than in a thread); the request is complete only after it,
        so a graceful stop still waits for it."""
        self.log.append(scored.features, scored.predictions, request_id, timestamp, model)


class Measured:
    """MLflow's request timeout (a 504 as its scoring server answers) around every request, and the
    request count and latency of `/invocations`. Plain ASGI: Starlette's `@app.middleware("http")`
    (BaseHTTPMiddleware) adds a task and a pair of memory streams to every request."""

    def __init__(self, app, timeout: float):
        self.app, self.timeout = app, timeout

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), None

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                await self.app(scope, receive, sending)
        except TimeoutError:
            if not deadline.expired() or status is not None:  # not ours, or already answering
                raise
            await Response("Request processing time exceeded limit", status_code=504,
                           media_type="application/json")(scope, receive, sending)
        finally:
            if scope["path"] == "/invocations":
                metrics.REQUESTS.labels("invocations", str(status or 500)).inc()
                metrics.LATENCY.labels("invocations").observe(time.perf_counter() - started)


def create_app(settings: ServingSettings) -> FastAPI:
    metrics.initialise_labels()
    server = Server(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        server.start()
        yield
        await asyncio.to_thread(server.stop)

    app = FastAPI(lifespan=lifespan, title=f"{settings.model}@{settings.alias}")
    app.state.server = server
    app.add_middleware(Measured, timeout=MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.get())

    async def ping() -> Response:
        return Response("\n", status_code=200 if server.ready else 503, media_type="application/json")

    app.get("/ping")(ping)
    app.get("/health")(ping)
    app.get("/version")(lambda: Response(VERSION, media_type="application/json"))
    app.get("/metrics")(lambda: Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST))
    app.post("/invocations")(server.invocations)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory each worker process calls (settings from MLOPS_SERVING_SETTINGS)."""
    return create_app(ServingSettings.from_env())
