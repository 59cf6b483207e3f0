"""The HTML report says how each feature changed, what went wrong in the input, and the trend."""

from __future__ import annotations

import numpy as np

from workloads.churn import FEATURES, Drift, generate
from workloads.drift.engine import compare
from workloads.drift.errors import Problem, UnreadableFileError
from workloads.drift.labels import bin_labels
from workloads.drift.profile import build_profile
from workloads.drift.report import to_html
from workloads.drift.settings import DriftSettings


def drifted_report():
    settings = DriftSettings(threads=1, mmd=False)
    reference = generate(3_000, seed=1)[list(FEATURES)]
    current = generate(2_000, seed=2, drift=Drift(numeric_shift={"usage_gb": 0.5}))[list(FEATURES)]
    current["event_time"] = np.datetime64("2026-11-26")
    return compare(build_profile(reference, settings), current, settings)


def test_the_page_leads_with_drifted_features_and_says_by_how_much():
    page = to_html(drifted_report(), "t")
    table = page[page.index("<th>feature</th>"):]
    assert table.index(">usage_gb<") < table.index(">tenure_months<")
    assert "mean +0.5" in page and "SD, spread ×" in page
    assert "missing share: not applicable" not in page  # trivial n/a share tests stay in the JSON only
    assert "Columns only in the current data (ignored): event_time" in page


def test_problems_and_the_trend_are_shown():
    report = drifted_report()
    report.problems = [Problem.of(UnreadableFileError("s3://monitoring/churn/dt=2026-11-26/b.parquet: junk"))]
    report.trend = [{"interval_start": "2026-11-25", "dataset_drift": False, "share_drifted": 0.0,
                     "features": {"usage_gb": {"drifted": False, "psi": 0.004}}}]
    page = to_html(report, "t")
    assert "exit 6 UnreadableFileError: s3://monitoring/churn/dt=2026-11-26/b.parquet: junk" in page
    assert "<th>2026-11-25</th>" in page and "<td>0.004</td>" in page and "this run" in page


def test_bin_labels_are_short_and_distinct():
    assert bin_labels(np.array([0.5, 1.0, 2.0])) == ["≤ 0.5", "0.5 – 1", "1 – 2", "> 2"]
    assert bin_labels(np.array([1234567.0, 2345678.9])) == ["≤ 1,230,000", "1,230,000 – 2,350,000", "> 2,350,000"]
    assert bin_labels(np.array([-0.00012, 0.0421])) == ["≤ -0.00012", "-0.00012 – 0.0421", "> 0.0421"]
    assert len(set(bin_labels(np.array([1.00001, 1.00002, 1.00003])))) == 4


def test_the_page_fits_a_narrow_frame_and_every_chart_titles_both_axes():
    """MLflow's artifact viewer shows the report in a narrow frame: no fixed widths, charts scale."""
    page = to_html(drifted_report(), "t")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    charts = page.split("<svg")[1:]
    assert len(charts) == len(FEATURES)
    for chart in charts:
        head = chart[:chart.index(">")]
        assert 'class="chart"' in head and "viewBox" in head and "width=" not in head, head
        assert ">share of rows</text>" in chart and "(bins of the reference)</text>" in chart
    assert ".scroll{overflow-x:auto" in page and 'svg.chart{width:100%' in page
