"""The Feast repository and the example data agree, and the repository fails clearly without its env."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pandas as pd
import pytest

from platform_components.feature_store import REPO_SOURCE
from workloads.features.data import ACTIVITY_FEATURES, KEYS, MODEL_FEATURES, PROFILE_FEATURES, synthesize


@pytest.fixture
def repository(monkeypatch):
    monkeypatch.setenv("FEATURE_DATA_URI", "s3://features/churn/")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://s3.example:9000")
    spec = importlib.util.spec_from_file_location("feature_repository_under_test", REPO_SOURCE / "features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_feature_views_match_the_generated_sources(repository):
    schema = {view.name: sorted(field.name for field in view.schema) for view in
              (repository.customer_profile, repository.customer_activity)}
    assert schema == {"customer_profile": sorted(PROFILE_FEATURES), "customer_activity": sorted(ACTIVITY_FEATURES)}
    service = [f.name for projection in repository.churn_model_v1.feature_view_projections for f in projection.features]
    assert sorted(service) == sorted(MODEL_FEATURES)
    assert repository.customer_profile_source.path == "s3://features/churn/customer_profile/"
    assert repository.customer_activity_source.s3_endpoint_override == "http://s3.example:9000"


def test_generated_sources_have_the_declared_columns_and_microsecond_timestamps():
    end = pd.Timestamp("2026-11-27T10:00:00Z")
    tables = synthesize(200, 3, end, seed=1)
    assert list(tables.profiles.columns) == list(KEYS + PROFILE_FEATURES)
    assert list(tables.activity.columns) == list(KEYS + ACTIVITY_FEATURES)
    assert len(tables.activity) == 600 and len(tables.labels) == 200
    for frame in (tables.profiles, tables.activity):
        assert (frame["event_timestamp"] < end).all()
        assert (frame["event_timestamp"].dt.nanosecond == 0).all()
        assert (frame["created"] > frame["event_timestamp"]).all()
    assert tables.profiles["customer_id"].value_counts().max() == 2, "a tenth of accounts change plan once"
    pd.testing.assert_frame_equal(synthesize(200, 3, end, seed=1).activity, tables.activity)


def test_the_repository_names_a_missing_variable():
    code = f"import runpy; runpy.run_path({str(REPO_SOURCE / 'features.py')!r})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": "http://s3:9000"})
    assert result.returncode != 0
    assert "environment variable FEATURE_DATA_URI is not set" in result.stderr
