"""The probe's outputs: a terminal table, the ``--json`` object, KFP Metrics and an HTML report.

The HTML is one self-contained file: tables and inline SVG charts (latency percentiles and
throughput against concurrency, the TTFT distribution per level), no script, nothing loaded from
the internet — the Vertex console shows HTML artifacts in a sandbox.
"""

from __future__ import annotations

import math
from typing import Any

from vllm_vertex.textsafe import html_text, plain

__all__ = ["kfp_metrics", "render_html", "render_note", "render_text", "summary"]

_EST = " (estimate)"


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The result without per-request samples (what ``--json`` prints)."""
    out = {k: v for k, v in result.items() if k != "levels"}
    out["levels"] = [{k: v for k, v in level.items() if k != "samples"} for level in result.get("levels", [])]
    if "capacity" in result:
        out["capacity"] = result["capacity"]
    return out


def _fmt(value: object, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


_COLUMNS = [
    ("concurrency", "conc", 0),
    ("completed", "ok", 0),
    ("failed", "failed", 0),
    ("request_throughput", "req/s", 2),
    ("output_throughput", "out tok/s", 1),
    ("median_ttft_ms", "TTFT p50 ms", 1),
    ("p95_ttft_ms", "TTFT p95 ms", 1),
    ("median_tpot_ms", "TPOT p50 ms", 2),
    ("p95_tpot_ms", "TPOT p95 ms", 2),
    ("median_itl_ms", "ITL p50 ms", 2),
    ("median_e2el_ms", "E2EL p50 ms", 1),
    ("p95_e2el_ms", "E2EL p95 ms", 1),
]


def _headers(result: dict[str, Any]) -> list[str]:
    est = result.get("ttft_estimated")
    return [h + ("*" if est and "TTFT" in h else "") for _, h, _ in _COLUMNS]


def render_text(result: dict[str, Any]) -> str:
    """A fixed-width table per level, the SLO verdict and the capacity line."""
    rows = [_headers(result)]
    for level in result["levels"]:
        rows.append([_fmt(level.get(k), d) for k, _, d in _COLUMNS])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=False)) for row in rows]
    if result.get("ttft_estimated"):
        lines.append(
            "* TTFT estimated from max_tokens=1 requests: this endpoint cannot stream (shared Vertex endpoint); "
            "TPOT and ITL are not measured."
        )
    for level in result["levels"]:
        for error, count in (level.get("errors") or {}).items():
            lines.append(f"concurrency {level['concurrency']}: {count} × {plain(error, 500, keep='')}")
    lines.extend(f"note: {plain(n, 1000, keep='')}" for n in result.get("client_notes") or [])
    lines.append(_slo_line(result["slo"]))
    if "capacity" in result:
        lines.append(f"capacity: {result['capacity']['summary']} (search stopped: {result['capacity']['stopped_by']})")
    return "\n".join(lines)


def _slo_line(gate: dict[str, Any]) -> str:
    if not gate.get("gated"):
        return "SLO: none given (no gate)"
    if gate["passed"]:
        return "SLO met: " + ", ".join(f"{k}={v:g}" for k, v in gate["thresholds"].items())
    return "SLO MISSED: " + "; ".join(gate["missed"])


def kfp_metrics(result: dict[str, Any]) -> dict[str, float]:
    """Headline figures per level for KFP Metrics: ``c{C}_{key}``, plus the verdict and capacity."""
    keys = [
        "request_throughput",
        "output_throughput",
        "median_ttft_ms",
        "p95_ttft_ms",
        "median_tpot_ms",
        "p95_tpot_ms",
        "median_itl_ms",
        "median_e2el_ms",
        "p95_e2el_ms",
        "error_rate",
    ]
    out: dict[str, float] = {}
    for level in result["levels"]:
        for key in keys:
            value = level.get(key)
            if value is not None and math.isfinite(value):
                name = (
                    key.replace("_ttft_", "_ttft_estimate_") if result.get("ttft_estimated") and "ttft" in key else key
                )
                out[f"c{level['concurrency']}_{name}"] = round(float(value), 4)
    out["slo_passed"] = 1.0 if result["slo"]["passed"] else 0.0
    if "capacity" in result:
        out["capacity_max_concurrency"] = float(result["capacity"]["max_concurrency"])
    return out


# --- HTML ---------------------------------------------------------------------------------------


def _svg_open(w: int, h: int, title: str) -> str:
    label = html_text(title)
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="{label}">'


_PALETTE = ["#1a73e8", "#e8710a", "#188038", "#d93025", "#9334e6", "#12b5cb"]


def _svg_lines(title: str, xs: list[int], series: dict[str, list[Any]], y_label: str) -> str:
    """A line chart: x = concurrency levels (evenly spaced), one polyline per series."""
    w, h, left, right, top, bottom = 560, 300, 64, 150, 34, 46
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    if not xs or not values:
        return f"<p><em>{html_text(title)}: no data</em></p>"
    y_max = max(values) * 1.1 or 1.0
    pw, ph = w - left - right, h - top - bottom

    def x_at(i: int) -> float:
        return left + (pw * i / (len(xs) - 1) if len(xs) > 1 else pw / 2)

    def y_at(v: float) -> float:
        return top + ph - ph * v / y_max

    parts = [
        _svg_open(w, h, title),
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">{html_text(title)}</text>',
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#555"/>',
    ]
    for k in range(5):
        v = y_max * k / 4
        parts.append(f'<text x="{left - 6}" y="{y_at(v) + 4:.1f}" font-size="10" text-anchor="end">{v:,.3g}</text>')
        parts.append(f'<line x1="{left}" y1="{y_at(v):.1f}" x2="{left + pw}" y2="{y_at(v):.1f}" stroke="#eee"/>')
    for i, x in enumerate(xs):
        parts.append(f'<text x="{x_at(i):.1f}" y="{top + ph + 16}" font-size="10" text-anchor="middle">{x}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 8}" font-size="11" text-anchor="middle">concurrency</text>')
    parts.append(
        f'<text x="14" y="{top + ph / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + ph / 2})">{html_text(y_label)}</text>'
    )
    for n, (name, vs) in enumerate(series.items()):
        color = _PALETTE[n % len(_PALETTE)]
        pts = [(x_at(i), y_at(v)) for i, v in enumerate(vs) if v is not None and math.isfinite(v)]
        if len(pts) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                + '"/>'
            )
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in pts)
        ly = top + 14 + 16 * n
        parts.append(f'<rect x="{left + pw + 12}" y="{ly - 9}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{left + pw + 26}" y="{ly}" font-size="11">{html_text(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_histogram(title: str, values: list[float], bins: int = 20) -> str:
    w, h, left, top, bottom = 560, 220, 56, 30, 40
    if not values:
        return f"<p><em>{html_text(title)}: no data</em></p>"
    lo, hi = min(values), max(values)
    span = (hi - lo) or max(hi, 1.0)
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    pw, ph, top_count = w - left - 20, h - top - bottom, max(counts)
    bw = pw / bins
    parts = [
        _svg_open(w, h, title),
        f'<text x="{left}" y="18" font-size="13" font-weight="bold">{html_text(title)}</text>',
    ]
    for i, c in enumerate(counts):
        bh = ph * c / top_count
        parts.append(
            f'<rect x="{left + i * bw:.1f}" y="{top + ph - bh:.1f}" width="{bw - 1:.1f}" height="{bh:.1f}" '
            f'fill="#1a73e8"><title>{lo + i * span / bins:,.1f}–{lo + (i + 1) * span / bins:,.1f} ms: '
            f"{c}</title></rect>"
        )
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#555"/>')
    parts.append(f'<text x="{left}" y="{top + ph + 14}" font-size="10">{lo:,.1f} ms</text>')
    parts.append(f'<text x="{left + pw}" y="{top + ph + 14}" font-size="10" text-anchor="end">{hi:,.1f} ms</text>')
    parts.append(f'<text x="{left - 6}" y="{top + 8}" font-size="10" text-anchor="end">{top_count}</text>')
    parts.append(
        f'<text x="{left + pw / 2}" y="{h - 6}" font-size="11" text-anchor="middle">'
        f"TTFT (ms), {len(values)} requests</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(result: dict[str, Any]) -> str:
    head = "".join(f"<th>{html_text(h)}</th>" for h in _headers(result))
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(level.get(k), d)}</td>" for k, _, d in _COLUMNS) + "</tr>"
        for level in result["levels"]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(result: dict[str, Any], title: str = "Load probe") -> str:
    """The self-contained HTML report."""
    levels = result["levels"]
    xs = [lv["concurrency"] for lv in levels]
    est = _EST if result.get("ttft_estimated") else ""
    gate = result["slo"]
    verdict_class = "ok" if gate["passed"] else "bad"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html_text(title)}</title><style>body{{font-family:sans-serif;margin:16px;color:#202124}}"
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #dadce0;padding:3px 8px;text-align:right;"
        "font-size:12px}th{background:#f1f3f4}.ok{color:#188038}.bad{color:#d93025}.note{color:#5f6368;font-size:12px}"
        "</style></head><body>",
        f"<h1>{html_text(title)}</h1>",
        f"<p>Target: <code>{html_text(str(result.get('target', '')))}</code>; model: "
        f"<code>{html_text(str(result.get('model') or '(endpoint default)'))}</code>; "
        f"{'streamed' if result.get('streaming') else 'not streamed (shared endpoint)'}; "
        f"{result['settings']['input_tokens']} prompt tokens, {result['settings']['output_tokens']} output tokens, "
        f"{result['settings']['num_requests']} requests per level; "
        f"started {html_text(str(result.get('started', '')))}.</p>",
        f"<p class='{verdict_class}'><b>{html_text(_slo_line(gate))}</b></p>",
    ]
    if "capacity" in result:
        parts.append(
            f"<p><b>Capacity:</b> {html_text(result['capacity']['summary'])} "
            f"(search stopped: {html_text(result['capacity']['stopped_by'])}).</p>"
        )
    parts.append(_html_table(result))
    parts.extend(f"<p class='bad'>Note: {html_text(n)}.</p>" for n in result.get("client_notes") or [])
    if est:
        parts.append(
            "<p class='note'>* TTFT estimated from the end-to-end latency of max_tokens=1 requests sent within "
            "the same load: shared Vertex endpoints cannot stream. TPOT and ITL are not measured.</p>"
        )
    parts.append(
        "<p class='note'>Figures as <code>vllm bench serve</code> defines them: TTFT to the first streamed "
        "chunk, TPOT = (E2EL − TTFT)/(output tokens − 1), ITL per chunk pooled over requests, throughputs "
        "over the level's duration; output tokens from the server's usage.</p>"
    )
    pct = {f"TTFT {s}{est}": [lv.get(f"{s}_ttft_ms") for lv in levels] for s in ("median", "p95", "p99")}
    pct.update({f"E2EL {s}": [lv.get(f"{s}_e2el_ms") for lv in levels] for s in ("median", "p95", "p99")})
    parts.append(_svg_lines("Latency percentiles vs concurrency", xs, pct, "ms"))
    if result.get("streaming"):
        tpot = {f"TPOT {s}": [lv.get(f"{s}_tpot_ms") for lv in levels] for s in ("median", "p95", "p99")}
        tpot["ITL median"] = [lv.get("median_itl_ms") for lv in levels]
        parts.append(_svg_lines("Per-token latency vs concurrency", xs, tpot, "ms"))
    parts.append(
        _svg_lines(
            "Throughput vs concurrency",
            xs,
            {
                "output tok/s": [lv.get("output_throughput") for lv in levels],
                "total tok/s": [lv.get("total_token_throughput") for lv in levels],
            },
            "tokens/s",
        )
    )
    parts.append("<h2>TTFT distribution" + html_text(est) + "</h2>")
    for lv in levels:
        parts.append(_svg_histogram(f"concurrency {lv['concurrency']}", (lv.get("samples") or {}).get("ttft_ms", [])))
    failures = [(lv["concurrency"], e, n) for lv in levels for e, n in (lv.get("errors") or {}).items()]
    if failures:
        parts.append(
            "<h2>Failed requests</h2><ul>"
            + "".join(f"<li>concurrency {c}: {n} × {html_text(e)}</li>" for c, e, n in failures)
            + "</ul>"
        )
    if gate.get("checks"):
        rows = "".join(
            f"<tr><td>{c['concurrency']}</td><td>{html_text(c['key'])}{_EST if c['estimated'] else ''}</td>"
            f"<td>{c['threshold']:g}</td><td>{_fmt(c['value'], 2)}</td>"
            f"<td class='{'ok' if c['passed'] else 'bad'}'>{'met' if c['passed'] else 'missed'}</td></tr>"
            for c in gate["checks"]
        )
        parts.append(
            "<h2>SLO checks</h2><table><thead><tr><th>conc</th><th>key</th><th>limit</th><th>value</th>"
            f"<th>verdict</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def render_note(title: str, text: str) -> str:
    """A one-paragraph HTML page: why nothing was measured."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html_text(title)}</title></head>"
        f"<body style='font-family:sans-serif'><h1>{html_text(title)}</h1><p>{html_text(text)}</p></body></html>"
    )
