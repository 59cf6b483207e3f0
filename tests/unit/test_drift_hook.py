"""The retrain hook retries transient failures, not client errors, and authenticates."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from workloads.drift.hook import HookError, RetrainHook


class Scripted(BaseHTTPRequestHandler):
    answers: list[int] = []
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Scripted.seen.append({"auth": self.headers["Authorization"], "body": body})
        self.send_response(Scripted.answers.pop(0))
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Scripted.seen.clear()
    httpd = HTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/runs"
    httpd.shutdown()


def test_transient_failures_are_retried_until_success(server, caplog):
    Scripted.answers = [503, 429, 200]
    hook = RetrainHook(server, "pat", backoff_seconds=0.01)
    with caplog.at_level("INFO", logger="drift.hook"):
        assert hook.trigger({"model": "churn"}) == 200
    assert len(Scripted.seen) == 3
    assert Scripted.seen[0]["body"] == {"templateParameters": {"model": "churn"}}
    assert f"retrain hook: POST {server} -> 200 (attempt 3)" in caplog.text


def test_client_errors_are_not_retried(server):
    Scripted.answers = [401]
    with pytest.raises(HookError, match="failed after 1 attempt"):
        RetrainHook(server, "pat", backoff_seconds=0.01).trigger({})
    assert len(Scripted.seen) == 1


def test_gives_up_after_the_last_attempt(server):
    Scripted.answers = [500, 500]
    with pytest.raises(HookError, match="failed after 2 attempt"):
        RetrainHook(server, "pat", attempts=2, backoff_seconds=0.01).trigger({})


def test_basic_auth_for_azure_devops_personal_access_tokens(server):
    Scripted.answers = [200]
    RetrainHook(server, "pat", auth="basic").trigger({})
    assert Scripted.seen[0]["auth"] == "Basic OnBhdA=="  # base64(":pat")
