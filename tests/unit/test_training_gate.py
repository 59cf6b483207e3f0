"""The champion/challenger gate as a pure decision: every rule, in its order."""

from __future__ import annotations

import math

import pytest

from workloads.training.gate import KEPT, PROMOTED, Evaluation, decide, schema_difference

SCHEMA = (("tenure_months", "double"), ("contract", "string"))


def model(metric: float, *, finite: bool = True, schema=SCHEMA, service: str = "churn_model_v1") -> Evaluation:
    return Evaluation(metric, 500, finite, schema, service)


def test_the_first_model_becomes_champion_if_it_reaches_the_floor():
    assert decide(model(0.7), None, min_metric=0.6, margin=0.01).outcome == PROMOTED
    refused = decide(model(0.55), None, min_metric=0.6, margin=0.01)
    assert refused.outcome == KEPT and "below the floor 0.6000" in refused.reason


def test_a_challenger_must_beat_the_champion_by_the_margin_on_the_same_rows():
    assert decide(model(0.80), model(0.78), min_metric=0.6, margin=0.01).outcome == PROMOTED
    kept = decide(model(0.785), model(0.78), min_metric=0.6, margin=0.01)
    assert kept.outcome == KEPT and kept.reason.startswith("not better by the margin")
    assert decide(model(0.78), model(0.78), min_metric=0.6, margin=0.0).outcome == PROMOTED, "a tie passes margin 0"
    assert decide(model(0.77), model(0.78), min_metric=0.6, margin=-0.02).outcome == PROMOTED


def test_non_finite_predictions_are_refused_whatever_the_metric():
    decision = decide(model(0.99, finite=False), model(0.5), min_metric=0.6, margin=0.01)
    assert decision.outcome == KEPT and "not all finite" in decision.reason


def test_a_changed_schema_under_the_same_feature_service_is_refused():
    broken = (("tenure_months", "long"), ("region", "string"))
    decision = decide(model(0.95, schema=broken), model(0.70), min_metric=0.6, margin=0.01)
    assert decision.outcome == KEPT
    assert "missing ['contract']" in decision.reason and "added ['region']" in decision.reason
    assert "tenure_months double -> long" in decision.reason


def test_a_new_feature_service_may_change_the_schema():
    challenger = model(0.90, schema=(("usage_gb", "double"),), service="churn_model_v2")
    assert decide(challenger, model(0.70), min_metric=0.6, margin=0.01).outcome == PROMOTED


def test_a_champion_that_cannot_be_scored_on_the_window_gives_way():
    champion = Evaluation(math.nan, 0, False, SCHEMA, "churn_model_v0")
    assert decide(model(0.7), champion, min_metric=0.6, margin=0.01).outcome == PROMOTED


@pytest.mark.parametrize(("old", "new", "expected"), [
    (SCHEMA, SCHEMA, ""),
    (SCHEMA, SCHEMA[:1], "missing ['contract']"),
])
def test_schema_difference_in_words(old, new, expected):
    assert schema_difference(old, new) == expected


@pytest.mark.parametrize(("option", "value", "named"), [
    ("--margin", "nan", "--margin"), ("--margin", "2", "--margin"), ("--min-metric", "1.5", "--min-metric"),
    ("--min-metric", "nan", "--min-metric"), ("--holdout-fraction", "1", "--holdout-fraction"),
])
def test_a_bad_gate_option_is_a_usage_error_naming_it(option, value, named, capsys):
    from workloads.training.__main__ import main

    code = main(["run", "--model", "churn", "--config-dir", "cfg", "--repo-dir", "repo", "--data-uri", "s3://f/x",
                 option, value])
    assert code == 2
    assert named in capsys.readouterr().err
