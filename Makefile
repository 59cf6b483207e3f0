# The two commands a newcomer needs:
#   make synth STACK=dev   render a stack offline (no cluster, no cloud, no Pulumi CLI)
#   make test              install what the tests need, then run every test tier
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
BENCH_VENV := .venv-bench
STACK ?= dev

.PHONY: venv checkov kube-score servers monitoring-tools image engine-tools engine local-servers local-cluster bench bench-drift bench-feast bench-serving bench-tracking bench-image bench-scoring synth synth-all test lint unit manifests integration config-docs check-pipelines clean

# Two stages of one virtualenv: the Pulumi program's packages (all `make synth` needs, ~0.5 GB,
# under a minute), then everything the tests need on top (~1.8 GB).
$(VENV)/.program: requirements.txt
	@tools/timed "pulumi program packages" bash -c '$(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt'
	@touch $@

$(VENV)/.installed: $(VENV)/.program requirements-dev.txt workloads/requirements.txt
	@tools/timed "test packages" $(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@tools/timed "checkov (own venv)" bash -c '$(PYTHON) -m venv $(CHECKOV_VENV) && $(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt'
	@touch $@

$(BENCH_VENV)/.installed: requirements-bench.txt
	@tools/timed "benchmark packages" bash -c '$(PYTHON) -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-bench.txt'
	@touch $@

venv: $(VENV)/.installed
checkov: $(CHECKOV_VENV)/.installed

# kube-score for the manifest tier, built once from the Go module proxy (cached by version).
kube-score:
	@tools/timed "kube-score (go build, cached)" tools/install/kube-score.sh

# The real servers the integration tests start: Postgres and Redis from Debian, SeaweedFS built
# from the Go module proxy at a pinned version (cached in ~/.cache/mlops-platform).
servers:
	@tools/timed "postgres + redis (debian)" tools/install/system-packages.sh
	@tools/timed "seaweedfs (go build, cached)" tools/install/seaweedfs.sh

# Prometheus and promtool (the alert-rule tests and the integration tier's real Prometheus), the
# Pushgateway, each built once from the Go module proxy; the Prometheus Operator's CRDs (schemas of
# the monitors and rules) from the same proxy's module cache.
monitoring-tools:
	@tools/timed "prometheus + promtool (go build, cached)" tools/install/prometheus.sh
	@tools/timed "pushgateway (go build, cached)" tools/install/pushgateway.sh
	@tools/timed "prometheus-operator CRDs" tools/install/prometheus-operator-crds.sh

# The workloads image, built from workloads/Dockerfile with podman (no daemon) on a python base made
# from Debian packages; cached by the hash of what goes into it (docs/testing.md, "The image").
image:
	@tools/timed "podman, buildah, mmdebstrap (debian)" tools/install/container-tools.sh
	@tools/timed "workloads image (podman build, cached)" tools/install/workloads-image.sh

# The engine tier's binaries, each built once from the Go module proxy at a pinned version (cached
# by version in ~/.cache/mlops-platform/bin): a Kubernetes control plane, kwok, the Pulumi CLI and
# the Pulumi Kubernetes provider.
engine-tools:
	@tools/timed "control plane (go build, cached)" tools/install/control-plane.sh
	@tools/timed "kwok (go build, cached)" tools/install/kwok.sh
	@tools/timed "pulumi CLI (go build, cached)" tools/install/pulumi.sh
	@tools/timed "pulumi-kubernetes (go build, cached)" tools/install/pulumi-kubernetes.sh

synth: $(VENV)/.program
	$(PY) -m tools.synth --stack $(STACK)

synth-all: $(VENV)/.program
	$(PY) -m tools.synth --all --quiet

lint: venv
	$(VENV)/bin/ruff check .

# Azure DevOps pipelines checked offline: template expansion, schema, tasks, output-variable flow.
# PIPELINE=path/to/azure-pipelines.yml checks another repository's (templates relative to it);
# PIPELINE_ARGS passes options: --strict, --format json|sarif, --root DIR, --repository NAME=DIR.
PIPELINE ?= azure-pipelines.yml pipelines/training.yml
check-pipelines: venv
	$(PY) -m pipeline_checker $(PIPELINE) $(PIPELINE_ARGS)

test: venv checkov kube-score servers monitoring-tools image engine-tools lint check-pipelines
	$(PY) -m pytest

unit: venv monitoring-tools
	$(PY) -m pytest tests/unit

manifests: venv checkov kube-score monitoring-tools
	$(PY) -m pytest tests/manifests

integration: venv servers monitoring-tools image
	$(PY) -m pytest tests/integration

# `pulumi up`/`preview`/`destroy` of the stacks with the real engine against a local control plane.
engine: venv engine-tools monitoring-tools
	$(PY) -m pytest tests/engine

# Start Postgres, Redis, SeaweedFS and MLflow locally (as the tests do) until Ctrl-C.
local-servers: venv servers
	$(PY) -m tools.servers up

# Start the engine tier's control plane (a minikube-sized kwok node) until Ctrl-C.
local-cluster: venv engine-tools
	$(PY) -m tools.cluster up

config-docs: venv
	$(PY) -m tools.config_reference --write README.md

# Speed and memory against baselines on the same data (minutes; not part of `make test`).
bench: bench-drift bench-feast bench-serving bench-tracking bench-image bench-scoring

bench-drift: $(BENCH_VENV)/.installed
	PYTHONPATH=. $(BENCH_VENV)/bin/python -m benchmarks.drift_bench

# On the local servers (Postgres, Redis, SeaweedFS), like the integration tests.
bench-feast: venv servers
	PYTHONPATH=. $(PY) -m benchmarks.feast_bench

# The model server next to `mlflow models serve` and the in-process floor, on the local servers.
bench-serving: venv servers
	PYTHONPATH=. $(PY) -m benchmarks.serving_bench

# The tracking server under concurrent clients, with and without the credential cache.
bench-tracking: venv servers
	PYTHONPATH=. $(PY) -m benchmarks.tracking_bench

# Batch scoring at 1M, 5M and 20M rows against `mlflow models predict` and in-process predict.
bench-scoring: venv
	PYTHONPATH=. $(PY) -m benchmarks.scoring_bench

# The workloads image: its size, what takes it, each job's start-up in a fresh container (root drops
# the page cache for the cold figures).
bench-image: venv image
	PYTHONPATH=. $(PY) -m benchmarks.image_bench

clean:
	rm -rf build .pytest_cache
