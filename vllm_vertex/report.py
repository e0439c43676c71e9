"""Smoke-check results, their verdict, metrics and the Markdown report. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from vllm_vertex import textsafe

__all__ = ["CheckResult", "attempt_notes", "failure_summary", "metrics", "render_markdown", "verdict"]


@dataclass
class CheckResult:
    """One smoke check: what was asked, whether it passed, how long it took, what came back."""

    name: str
    route: str
    passed: bool
    latency_s: float
    answer: str = ""
    error: str = ""
    completion_tokens: int = 0
    image_url: str = ""

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def verdict(results: list[CheckResult]) -> str:
    """``passed`` when there was at least one check and every check passed, else ``failed``."""
    return "passed" if results and all(r.passed for r in results) else "failed"


def failure_summary(results: list[CheckResult], limit: int = 400) -> str:
    """The failing checks by name and the first one's error, for the run's top-level error; "" if all passed."""
    if not results:
        return "no check ran"
    failed = [r for r in results if not r.passed]
    if not failed:
        return ""
    first = failed[0]
    error = " ".join(textsafe.plain(first.error).split())
    error = error if len(error) <= limit else error[: limit - 1] + "…"
    return (
        f"{', '.join(r.name for r in failed)} failed ({len(failed)} of {len(results)} checks); "
        f"first error, {first.name} ({first.route}): {error}"
    )


def metrics(results: list[CheckResult]) -> dict[str, float]:
    """Figures for KFP Metrics: counts, per-check latency and completion tokens per second."""
    out: dict[str, float] = {
        "checks_passed": float(sum(r.passed for r in results)),
        "checks_failed": float(sum(not r.passed for r in results)),
    }
    for r in results:
        out[f"{r.name}_latency_s"] = round(r.latency_s, 4)
        if r.completion_tokens and r.latency_s > 0:
            out[f"{r.name}_tokens_per_s"] = round(r.completion_tokens / r.latency_s, 2)
    return out


def _cell(text: str, limit: int = 400) -> str:
    return textsafe.md_text(text, limit)


def attempt_notes(attempts_json: str) -> list[str]:
    """One note per placement attempt (place-and-deploy's ``attempts``), when there was more than one."""
    import json

    attempts = json.loads(attempts_json) if attempts_json else []
    if len(attempts) < 2:
        return []
    return [f"placement attempt {a['candidate']}, {a['where']}: {a['outcome']} after {float(a['minutes']):.1f} min "
            f"({a['cost']})" + (f": {a['error']}" if a.get("error") else "") for a in attempts]


def render_markdown(results: list[CheckResult], endpoint_name: str, model_id: str, notes: tuple[str, ...] = ()) -> str:
    """The report the console shows: verdict, a table of checks, answers and the image sent.

    ``notes`` are more lines for the header (e.g. the estimated GPU cost so far).
    """
    lines = [
        f"# Smoke tests: {verdict(results).upper()}",
        "",
        f"- Endpoint: {_cell(endpoint_name, 200)}",
        f"- Model: {_cell(model_id, 200)}",
        *(f"- {_cell(note[0].upper() + note[1:])}" for note in notes if note),
        "",
        "| check | route | result | latency (s) | answer or error |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        status = "pass" if r.passed else "FAIL"
        cells = (_cell(r.name, 80), _cell(r.route, 80), status, f"{r.latency_s:.3f}", _cell(r.error or r.answer))
        lines.append("| " + " | ".join(cells) + " |")
    images = sorted({r.image_url for r in results if r.image_url})
    for url in images:
        shown = textsafe.md_image(url, "image sent to the model") if len(url) < 200_000 else ""
        if shown:
            lines += ["", "Image sent:", "", shown]
    lines += [
        "",
        "<details><summary>Raw results</summary>",
        "",
        textsafe.md_json([r.to_dict() for r in results]),
        "</details>",
    ]
    return "\n".join(lines) + "\n"
