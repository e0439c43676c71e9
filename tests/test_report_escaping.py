"""Hostile answers, errors and URLs come out of every report escaped (issue 17, item 1)."""

import re

import pytest

from vllm_vertex import preflight, report, textsafe
from vllm_vertex.config import DeploymentConfig
from vllm_vertex.probe import report as probe_report

HOSTILE = (
    "<script>alert(1)</script></svg><img src=x onerror=alert(2)> ![x](javascript:alert(3)) "
    "[y](javascript:alert(4)) \x1b]0;title\x07\x1b[2J\x00\x9b31m ``` | end"
)
BREAKOUT_URL = "https://e.x/a.png)<img/src=x/onerror=alert(8)>"
TOKEN = "hf_" + "A1b2C3d4E5f6G7h8J9k0"


def _no_raw_html_or_controls(text: str, ours: tuple[str, ...] = ()) -> None:
    for tag in ours:
        text = text.replace(tag, "")
    assert "<script" not in text and "<img" not in text and "<svg" not in text and "</svg" not in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
    outside_code = text.split("```json")[0]
    assert not re.search(r"(?<!\\)\]\(javascript:", outside_code)


def test_smoke_report_escapes_answers_errors_notes_and_headers():
    bad = report.CheckResult("chat", "chat/completions", False, 0.1, error=HOSTILE + " " + TOKEN)
    ok = report.CheckResult("text_predict", ":predict", True, 0.2, answer=HOSTILE)
    md = report.render_markdown([bad, ok], "projects/p/endpoints/<b>1</b>", "m`<i>x</i>", ("cost <u>1</u>",))
    _no_raw_html_or_controls(md, ("<br>", "<details>", "</details>", "<summary>", "</summary>"))
    assert "&lt;script&gt;" in md and "&lt;b&gt;" in md and "&lt;u&gt;" in md
    assert TOKEN not in md and "hf_****" in md.replace("\\", "")
    # the table keeps its five columns: no unescaped "|" inside a cell
    row = next(line for line in md.splitlines() if line.startswith("| chat "))
    assert len(re.findall(r"(?<!\\)\|", row)) == 6
    # the raw JSON block cannot be closed early
    block = md.split("```json", 1)[1]
    assert block.count("```") == 1


def test_smoke_report_image_cannot_break_out_and_only_safe_schemes_show():
    results = [report.CheckResult("chat_image", "chat/completions", True, 0.1, answer="a cat", image_url=url)
               for url in (BREAKOUT_URL, "javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=")]  # fmt: skip
    md = report.render_markdown(results, "e", "m")
    images = re.findall(r"!\[[^\]]*\]\(([^)]*)\)", md)
    assert images == ["https://e.x/a.png%29%3Cimg/src=x/onerror=alert%288%29%3E"]
    assert "<img" not in md.split("<details>")[0]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://e.x/cat.png", True),
        ("gs://b/cat.png", True),
        ("data:image/png;base64,iVBORw0KGgo=", True),
        ("http://e.x/a b.png", False),
        ("javascript:alert(1)", False),
        ("data:image/svg+xml,<svg onload=alert(1)>", False),
        ("https://e.x/\x1b[2J.png", False),
    ],
)
def test_md_image_schemes(url, shown):
    assert bool(textsafe.md_image(url)) is shown


def test_preflight_report_escapes_findings_and_notes():
    cfg = DeploymentConfig(model_id="meta-llama/Llama-3.1-8B-Instruct")
    rep = preflight.PreflightReport(
        findings=[preflight.Finding("k<b>", HOSTILE, "fix <img src=x onerror=1>")], notes=[HOSTILE]
    )
    md = preflight.render_markdown(rep, cfg)
    _no_raw_html_or_controls(md)


def _probe_result(error: str) -> dict:
    level = {"concurrency": 1, "completed": 0, "failed": 1, "errors": {error: 1}, "samples": {"ttft_ms": []}}
    return {
        "levels": [level],
        "slo": {"gated": False, "passed": True},
        "settings": {"input_tokens": 1, "output_tokens": 1, "num_requests": 1},
        "client_notes": [HOSTILE],
        "target": "<b>t</b>",
    }


def test_probe_reports_escape_server_errors_and_mask_tokens():
    result = _probe_result("HTTP 500: " + HOSTILE + " " + TOKEN)
    text = probe_report.render_text(result)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text) and TOKEN not in text
    page = probe_report.render_html(result, "probe <script>")
    body = page.split("</style>", 1)[1]
    assert "<script" not in body and "<img" not in body and TOKEN not in page
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", page)
