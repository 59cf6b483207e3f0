"""The drift report as one self-contained HTML page: no scripts, no external assets.

Top down: the verdict; problems met in the input (if any); the multivariate test; one row per
feature, drifted first, with what changed and by how much (mean and median shift in reference
standard deviations and the ratio of spreads, or the category whose share moved most), the
missing and non-finite shares on both sides, PSI and every test; the trend of the model's recent
intervals (when the job found earlier runs); the columns not tested and why; and per feature the
share of reference and current rows in each reference quantile bin or category as inline SVG bars.
"""

from __future__ import annotations

import html

from workloads.drift.labels import signed
from workloads.drift.results import NOT_TESTED, DriftReport, FeatureResult, TestOutcome

REFERENCE_COLOUR, CURRENT_COLOUR, DRIFT_COLOUR, OK_COLOUR = "#4e79a7", "#f28e2b", "#c0392b", "#2e7d32"
# Fluid: MLflow's artifact viewer shows the report in a narrow frame, a browser in a wide window.
STYLE = ("body{font-family:system-ui,sans-serif;margin:1rem;max-width:1200px}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}"
         ".scroll{overflow-x:auto;max-width:100%}svg.chart{width:100%;max-width:720px;height:auto;display:block}"
         "h1{font-size:1.4rem}@media (max-width:700px){body{margin:.5rem}td,th{font-size:12px;padding:3px 5px}}"
         ".na{color:#888}.problem{background:#fdecea;border:1px solid #c0392b;padding:8px}")
TEST_NAMES = {"ks": "KS", "levene": "Levene", "chi2": "chi²", "missing_share": "missing share",
              "nonfinite_share": "non-finite share", "mmd": "MMD"}


def _e(text: object) -> str:
    return html.escape(str(text))


def _number(value: float | None, spec: str = ".3g") -> str:
    return "n/a" if value is None else format(value, spec)


def _bars(feature: FeatureResult) -> str:
    """Side-by-side bars per bin: the y axis the share of rows (labelled at 0, half and the
    maximum), the x axis the bins; both axes titled. The SVG scales to its container."""
    width, height, left, top_pad, bottom, gap = 720, 160, 64, 8, 110, 2
    n = len(feature.bins)
    top = max([*feature.reference_shares, *feature.current_shares, 1e-9])
    slot = (width - left) / max(n, 1)
    bar = max((slot - 3 * gap) / 2, 1)
    base = top_pad + height
    parts = [f'<svg class="chart" viewBox="0 0 {width} {base + bottom}" preserveAspectRatio="xMinYMin meet" '
             f'role="img" aria-label="share of rows per bin of {_e(feature.name)}, reference and current">',
             f'<line x1="{left - 2}" y1="{top_pad}" x2="{left - 2}" y2="{base}" stroke="#999"/>',
             f'<line x1="{left - 2}" y1="{base}" x2="{width}" y2="{base}" stroke="#999"/>']
    for fraction in (1.0, 0.5, 0.0):
        y = base - height * fraction
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{top * fraction:.1%}</text>')
    middle = top_pad + height / 2
    parts.append(f'<text x="14" y="{middle:.1f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 14 {middle:.1f})">share of rows</text>')
    for i, (label, r, c) in enumerate(zip(feature.bins, feature.reference_shares, feature.current_shares, strict=True)):
        x = left + i * slot + gap
        for offset, share, colour, who in ((0, r, REFERENCE_COLOUR, "reference"), (bar + gap, c, CURRENT_COLOUR, "current")):
            h = height * share / top
            parts.append(f'<rect x="{x + offset:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{_e(label)}: {who} {share:.2%}</title></rect>')
        cx, cy = x + slot / 2 - gap, base + 14
        parts.append(f'<text x="{cx:.1f}" y="{cy}" font-size="11" text-anchor="end" '
                     f'transform="rotate(-35 {cx:.1f} {cy})">{_e(label[:28])}</text>')
    parts.append(f'<text x="{left + (width - left) / 2:.1f}" y="{base + bottom - 6}" font-size="12" '
                 f'text-anchor="middle">{_e(feature.name)} (bins of the reference)</text>')
    parts.append("</svg>")
    return "".join(parts)


def describe_change(feature: FeatureResult) -> str:
    """One line on the direction and size of the change."""
    c = feature.change
    if not c:
        return ""
    if "mean_shift_sd" in c:
        ratio = "n/a" if c.get("std_ratio") is None else f"×{c['std_ratio']:.2f}"
        return (f"mean {signed(c['mean_shift_sd'], 'SD')}, median {signed(c['median_shift_sd'], 'SD')}, "
                f"spread {ratio}")
    moves = c.get("share_change_pp", [])[:2]
    return ", ".join(f"{m['category']} {signed(m['change_pp'], 'pp', 1)} ({m['reference']:.1%} → {m['current']:.1%})"
                     for m in moves)


def _test(t: TestOutcome) -> str:
    name = TEST_NAMES.get(t.test, t.test)
    if not t.applicable:
        return f'<span class="na">{_e(name)}: not applicable ({_e(t.reason)})</span>'
    mark = f' <b style="color:{DRIFT_COLOUR}">rejects</b>' if t.drifted else ""
    return f"{_e(name)} stat={t.statistic:.4g} p={t.p_value:.3g} adj={_number(t.p_adjusted)}{mark}"


def _shares(feature: FeatureResult, what: str) -> str:
    reference, current = getattr(feature, f"{what}_share_reference"), getattr(feature, f"{what}_share_current")
    return "—" if reference == current == 0 else f"{reference:.1%} → {current:.1%}"


def _shown(t: TestOutcome) -> bool:
    """Every test but a share test that cannot apply (no missing values anywhere): the JSON has those."""
    return t.applicable or t.test not in ("missing_share", "nonfinite_share")


def _feature_row(i: int, f: FeatureResult) -> str:
    if f.status == NOT_TESTED:
        verdict = f'<span class="na">not tested: {_e(f.reason)}</span>'
    elif f.drifted:
        verdict = f'<b style="color:{DRIFT_COLOUR}">drifted</b> ({_e(", ".join(TEST_NAMES.get(t, t) for t in f.drifted_by))})'
    else:
        verdict = "ok"
    unseen = f"<br>new: {_e(', '.join(f.unseen_categories[:10]))}" if f.unseen_categories else ""
    tests = "<br>".join(_test(t) for t in f.tests if _shown(t))
    return (f"<tr><td><a href='#feature-{i}'>{_e(f.name)}</a></td><td>{f.kind}</td><td>{verdict}{unseen}</td>"
            f"<td>{_e(describe_change(f))}</td><td>{_shares(f, 'missing')}</td><td>{_shares(f, 'nonfinite')}</td>"
            f"<td>{_number(f.psi, '.4f')}</td><td>{tests}</td></tr>")


def _trend(report: DriftReport) -> str:
    """Features x recent intervals (oldest first, this one last): PSI, red where drifted."""
    if not report.trend:
        return ""
    runs = [*report.trend, {"interval_start": "this run", "dataset_drift": report.dataset_drift,
                            "features": {f.name: {"drifted": f.drifted, "psi": f.psi} for f in report.features}}]
    head = "".join(f"<th{' style=color:' + DRIFT_COLOUR if r['dataset_drift'] else ''}>{_e(r['interval_start'])}</th>"
                   for r in runs)
    rows = []
    for f in report.features:
        cells = []
        for r in runs:
            seen = r["features"].get(f.name, {})
            style = f' style="background:{DRIFT_COLOUR};color:white"' if seen.get("drifted") else ""
            cells.append(f"<td{style}>{_number(seen.get('psi'), '.3f')}</td>")
        rows.append(f"<tr><td>{_e(f.name)}</td>{''.join(cells)}</tr>")
    return (f"<h2>Trend: recent intervals</h2><p>PSI per interval; red: drifted; red date: dataset drift.</p>"
            f"<table><tr><th>feature</th>{head}</tr>{''.join(rows)}</table>")


def _lists(report: DriftReport) -> str:
    parts = []
    if report.problems:
        items = "".join(f"<li>exit {p.exit_code} {_e(p.error)}: {_e(p.message)}</li>" for p in report.problems)
        parts.append(f"<div class='problem'><b>Problems in the input</b> (the report covers what could be "
                     f"computed):<ul>{items}</ul></div>")
    if report.untested_columns:
        items = "".join(f"<li><b>{_e(c['name'])}</b>: {_e(c['reason'])}</li>" for c in report.untested_columns)
        parts.append(f"<div class='problem'><b>Features the reference gives nothing to test against</b> (drift "
                     f"is decided on the others; retrain with the column fixed):<ul>{items}</ul></div>")
    if report.excluded_columns:
        items = "".join(f"<li><b>{_e(c['name'])}</b>: {_e(c['reason'])}</li>" for c in report.excluded_columns)
        parts.append(f"<h2>Columns not tested</h2><ul>{items}</ul>")
    if report.ignored_columns:
        parts.append(f"<p>Columns only in the current data (ignored): {_e(', '.join(report.ignored_columns))}</p>")
    return "".join(parts)


def to_html(report: DriftReport, title: str) -> str:
    mv = report.multivariate
    multivariate = "" if mv is None else f"<p>Multivariate (numeric features jointly): {_test(mv)}; {_e(mv.mode)}.</p>"
    sections = [f"<section id='feature-{i}'><h3>{_e(f.name)} — {'drifted' if f.drifted else f.status if f.status == NOT_TESTED else 'ok'}"
                f"</h3><p>{_e(describe_change(f))}</p>{_bars(f) if f.bins else ''}</section>" for i, f in enumerate(report.features)]
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    s = report.settings
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{STYLE}</style></head>
<body><h1>{_e(title)}</h1>
<h2 style="color:{DRIFT_COLOUR if report.dataset_drift else OK_COLOUR}">{verdict}</h2>
<p>{len(report.drifted_features)} of {len(report.features)} features drifted (share {report.share_drifted:.2f});
reference {report.rows_reference:,} rows, current {report.rows_current:,} rows; family alpha {s['alpha']} with
{s['correction']} correction over {report.family_size} tests; generated {_e(report.generated_at)} (UTC).</p>
{_lists(report)}{multivariate}
<div class="scroll"><table><tr><th>feature</th><th>kind</th><th>verdict</th><th>change</th><th>missing</th>
<th>non-finite</th><th>PSI</th><th>tests</th></tr>{''.join(_feature_row(i, f) for i, f in enumerate(report.features))}</table></div>
<div class="scroll">{_trend(report)}</div>
<p><span style="color:{REFERENCE_COLOUR}">&#9632; reference</span> <span style="color:{CURRENT_COLOUR}">&#9632; current</span></p>
{''.join(sections)}
</body></html>
"""
