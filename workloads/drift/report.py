"""The drift report as JSON (machine-readable) and as one self-contained HTML page.

The HTML has no scripts and no external assets: a summary table and, per feature, the share of
reference and current rows in each reference quantile bin (numeric) or category (categorical)
as inline SVG bars. Under no drift every numeric bin holds about 1/bins of the current rows.
"""

from __future__ import annotations

import html
import json

from workloads.drift.engine import DriftReport, FeatureResult

REFERENCE_COLOUR, CURRENT_COLOUR, DRIFT_COLOUR = "#4e79a7", "#f28e2b", "#c0392b"


def to_json(report: DriftReport, context: dict | None = None) -> str:
    return json.dumps({**(context or {}), **report.to_dict()}, indent=2, allow_nan=False, default=_finite)


def _finite(value):
    raise TypeError(f"not JSON serialisable: {value!r}")


def _bars(feature: FeatureResult) -> str:
    """Side-by-side bars per bin, on a share axis labelled at 0 and at its maximum."""
    width, height, left, bottom, gap = 680, 160, 44, 70, 2
    n = len(feature.bins)
    top = max(max(feature.reference_shares), max(feature.current_shares), 1e-9)
    slot = (width - left) / max(n, 1)
    bar = max((slot - 3 * gap) / 2, 1)
    parts = [f'<svg viewBox="0 0 {width} {height + bottom}" width="{width}" height="{height + bottom}" role="img" '
             f'aria-label="reference and current distribution of {html.escape(feature.name)}">',
             f'<line x1="{left - 2}" y1="0" x2="{left - 2}" y2="{height}" stroke="#999"/>',
             f'<text x="{left - 6}" y="10" font-size="10" text-anchor="end">{top:.1%}</text>',
             f'<text x="{left - 6}" y="{height}" font-size="10" text-anchor="end">0%</text>']
    for i, (label, r, c) in enumerate(zip(feature.bins, feature.reference_shares, feature.current_shares, strict=True)):
        x = left + i * slot + gap
        for offset, share, colour, who in ((0, r, REFERENCE_COLOUR, "reference"), (bar + gap, c, CURRENT_COLOUR, "current")):
            h = height * share / top
            parts.append(f'<rect x="{x + offset:.1f}" y="{height - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{html.escape(label)}: {who} {share:.2%}</title></rect>')
        cx, cy = x + slot / 2 - gap, height + 12
        parts.append(f'<text x="{cx:.1f}" y="{cy}" font-size="9" text-anchor="end" '
                     f'transform="rotate(-35 {cx:.1f} {cy})">{html.escape(label[:24])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: DriftReport, title: str) -> str:
    rows = []
    for f in report.features:
        tests = "; ".join(f"{t.test} stat={t.statistic:.4g} p={t.p_value:.3g} adj={t.p_adjusted:.3g}" for t in f.tests)
        flag = f'<b style="color:{DRIFT_COLOUR}">drifted</b>' if f.drifted else "ok"
        unseen = f" (new: {html.escape(', '.join(f.unseen_categories))})" if f.unseen_categories else ""
        rows.append(f"<tr><td><a href='#{html.escape(f.name)}'>{html.escape(f.name)}</a></td><td>{f.kind}</td>"
                    f"<td>{flag}{unseen}</td><td>{f.psi:.4f}</td><td>{html.escape(tests)}</td></tr>")
    mv = report.multivariate
    multivariate = (f"<p>Multivariate MMD: statistic {mv.statistic:.4g}, p = {mv.p_value:.3g} "
                    f"(adjusted {mv.p_adjusted:.3g}), {'drifted' if mv.drifted else 'ok'}; {html.escape(mv.mode)}.</p>"
                    if mv else "")
    sections = [f"<section id='{html.escape(f.name)}'><h3>{html.escape(f.name)} — "
                f"{'drifted' if f.drifted else 'ok'}</h3>{_bars(f)}</section>" for f in report.features]
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    s = report.settings
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}}</style></head>
<body><h1>{html.escape(title)}</h1>
<h2 style="color:{DRIFT_COLOUR if report.dataset_drift else '#2e7d32'}">{verdict}</h2>
<p>{len(report.drifted_features)} of {len(report.features)} features drifted (share {report.share_drifted:.2f});
reference {report.rows_reference:,} rows, current {report.rows_current:,} rows; family alpha {s['alpha']} with
{s['correction']} correction over every test.</p>{multivariate}
<p><span style="color:{REFERENCE_COLOUR}">&#9632; reference</span> <span style="color:{CURRENT_COLOUR}">&#9632; current</span></p>
<table><tr><th>feature</th><th>kind</th><th>verdict</th><th>PSI</th><th>tests</th></tr>{''.join(rows)}</table>
{''.join(sections)}
</body></html>
"""
