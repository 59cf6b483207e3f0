"""Pure parts of the feature-store jobs: staging a ConfigMap mount, classifying failures."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest
import redis

from workloads.features.__main__ import main
from workloads.features.errors import ConfigError, OnlineStoreAuthError, SourceDataError
from workloads.features.materialize import classify
from workloads.features.stage import stage_repository


def configmap_mount(root):
    """The layout the kubelet writes: files in a hidden timestamped dir, reached via symlinks."""
    data = root / "..2026_11_27_10_00_00.123"
    data.mkdir(parents=True)
    (data / "feature_store.yaml").write_text("project: churn\n")
    (data / "features.py").write_text("# repo\n")
    os.symlink(data.name, root / "..data")
    for name in ("feature_store.yaml", "features.py"):
        os.symlink(f"..data/{name}", root / name)
    return root


def test_staging_copies_the_visible_files_of_a_configmap_mount(tmp_path):
    mount = configmap_mount(tmp_path / "etc-feast")
    repo = stage_repository(mount, tmp_path / "repo")
    assert sorted(p.name for p in repo.iterdir()) == ["feature_store.yaml", "features.py"]
    assert not any(p.is_symlink() for p in repo.iterdir())
    assert (repo / "features.py").read_text() == "# repo\n"


def test_staging_in_place_and_without_a_config(tmp_path):
    mount = configmap_mount(tmp_path / "etc-feast")
    assert stage_repository(mount, mount) == mount
    with pytest.raises(ConfigError, match="no feature_store.yaml"):
        stage_repository(tmp_path / "empty", tmp_path / "repo")


def chained(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except Exception as error:
            raise outer from error
    except Exception as error:
        return error


def test_failures_are_classified_by_their_deepest_cause():
    auth = classify(chained(RuntimeError("write failed"), redis.exceptions.AuthenticationError("bad")), "v", "s3://x/")
    assert isinstance(auth, OnlineStoreAuthError) and auth.exit_code == 4
    wrongpass = classify(redis.exceptions.ResponseError("WRONGPASS invalid username-password pair"), "v", "s3://x/")
    assert isinstance(wrongpass, OnlineStoreAuthError)
    missing = classify(chained(ValueError("dask read_parquet failed"), FileNotFoundError("x")), "activity", "s3://f/a/")
    assert isinstance(missing, SourceDataError) and missing.exit_code == 3
    assert str(missing) == "feature view activity: cannot read its source s3://f/a/: no such file or prefix"
    corrupt = classify(pa.ArrowInvalid("Parquet magic bytes not found"), "activity", "s3://f/a/")
    assert "Parquet magic bytes not found" in str(corrupt)
    other = ConnectionRefusedError("redis down")
    assert classify(other, "v", "s") is other, "transient failures stay retryable (exit 1)"


def test_the_feast_command_needs_arguments(tmp_path, capsys):
    mount = configmap_mount(tmp_path / "etc-feast")
    assert main(["feast", "--config-dir", str(mount), "--repo-dir", str(tmp_path / "repo")]) == 2
    assert "give Feast CLI arguments after --" in capsys.readouterr().err
