#!/usr/bin/env bash
# Promote a model's champion from the QA registry to PROD's: both MLflow servers reached through
# `kubectl port-forward` (local ports 15000 and 25000), then `python -m workloads.training promote`.
# Usage: promote_model.sh MODEL QA_CONTEXT QA_NAMESPACE PROD_CONTEXT PROD_NAMESPACE
# Credentials (the MLflow admins', from the stacks' outputs): SOURCE_MLFLOW_TRACKING_USERNAME/
# PASSWORD (QA) and TARGET_MLFLOW_TRACKING_USERNAME/PASSWORD (PROD), in the environment.
set -euo pipefail
model=$1 qa_context=$2 qa_namespace=$3 prod_context=$4 prod_namespace=$5
kubectl --context "$qa_context" -n "$qa_namespace" port-forward svc/mlflow 15000:5000 >/dev/null &
qa_forward=$!
kubectl --context "$prod_context" -n "$prod_namespace" port-forward svc/mlflow 25000:5000 >/dev/null &
prod_forward=$!
trap 'kill $qa_forward $prod_forward' EXIT
for port in 15000 25000; do
  for _ in $(seq 60); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 1; done
done
MLOPS_SOURCE_ENVIRONMENT=qa python -m workloads.training promote --model "$model" \
  --from-tracking-uri http://127.0.0.1:15000 --to-tracking-uri http://127.0.0.1:25000
