"""``probe``: measure a serving endpoint under load, gate it on an SLO, find its capacity."""

from __future__ import annotations

import json
import sys

import click

from vllm_vertex.commands._common import guarded, location_for, location_options, require_credentials
from vllm_vertex.errors import BadInput

__all__ = ["probe"]

# ProbeSettings field → the flag that sets it (bad input names the flag).
_FLAGS = {
    "concurrency": "--concurrency",
    "num_requests": "--num-requests",
    "input_tokens": "--input-tokens",
    "output_tokens": "--output-tokens",
    "level_seconds": "--level-seconds",
    "timeout_s": "--timeout",
    "capacity_max_requests": "--capacity-max-requests",
    "capacity_max_seconds": "--capacity-max-seconds",
    "capacity_limit": "--capacity-limit",
    "slo": "--slo",
}


@click.command()
@click.option("--endpoint", default="", help="Vertex endpoint: projects/P/locations/L/endpoints/ID, or ID.")
@click.option("--base-url", default="", help="Any vLLM/OpenAI-compatible base URL, e.g. http://host:8000/v1.")
@click.option("--model", default="", help="With --base-url: the model name (default: the first one served).")
@click.option("--concurrency", default="1,4,16", show_default=True, help="Closed-loop levels: requests in flight.")
@click.option("--num-requests", type=int, default=64, show_default=True, help="Requests per level (after a warm-up).")
@click.option("--input-tokens", type=int, default=256, show_default=True, help="Prompt tokens per request.")
@click.option("--output-tokens", type=int, default=128, show_default=True, help="max_tokens per request (EOS ignored).")
@click.option("--image-url", default="", help="Multimodal: every other request is image+text with this image.")
@click.option("--slo", "slo_specs", multiple=True, help="Thresholds key=value[,key=value], e.g. p95_ttft_ms=500.")
@click.option("--find-capacity", is_flag=True, help="Search the highest concurrency that meets the SLO.")
@click.option("--capacity-max-requests", type=int, default=2000, show_default=True, help="Request budget, search.")
@click.option("--capacity-max-seconds", type=float, default=600, show_default=True, help="Time budget of the search.")
@click.option("--capacity-limit", type=int, default=512, show_default=True, help="Highest concurrency searched.")
@click.option("--level-seconds", type=float, default=0, help="Stop sending new requests in a level after this long.")
@click.option("--timeout", "timeout_s", type=float, default=600, show_default=True, help="Per-request timeout, s.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (vLLM's key names) instead of tables.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the HTML report (inline charts).")
@click.option("--results", "results_path", type=click.Path(dir_okay=False), help="Write the full results JSON.")
@location_options
@guarded
def probe(
    endpoint,
    base_url,
    model,
    concurrency,
    num_requests,
    input_tokens,
    output_tokens,
    image_url,
    slo_specs,
    find_capacity,
    capacity_max_requests,
    capacity_max_seconds,
    capacity_limit,
    level_seconds,
    timeout_s,
    as_json,
    html_path,
    results_path,
    project,
    region,
):
    """Measure an endpoint under load, with figures as `vllm bench serve` defines them.

    TTFT, TPOT, ITL, E2EL (mean, median, std, p90/p95/p99) and request, output and total token
    throughput per concurrency level; exit 0 when the SLO is met, 1 when missed, 2 on bad input.
    Shared Vertex endpoints cannot stream: there TTFT is an estimate (max_tokens=1 requests)
    and TPOT/ITL are not measured. SLO keys: {mean,median,p90,p95,p99}_{ttft,tpot,itl,e2el}_ms,
    min_output_throughput, min_request_throughput, min_total_token_throughput,
    min_request_goodput, max_error_rate (a fraction).
    """
    from vllm_vertex.cloud.probe import run_probe
    from vllm_vertex.errors import ProbeInputError, SloError
    from vllm_vertex.probe import ProbeSettings, parse_concurrency, parse_slo, report

    try:
        slo = parse_slo(slo_specs)
        settings = ProbeSettings(
            concurrency=parse_concurrency(concurrency),
            num_requests=num_requests,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            image_url=image_url,
            level_seconds=level_seconds,
            timeout_s=timeout_s,
            find_capacity=find_capacity,
            capacity_max_requests=capacity_max_requests,
            capacity_max_seconds=capacity_max_seconds,
            capacity_limit=capacity_limit,
        ).validate()
        if find_capacity and not slo:
            raise ProbeInputError("slo", "--find-capacity searches under an SLO: add e.g. --slo p95_ttft_ms=500")
    except SloError as err:
        raise BadInput(f"--slo: {err}") from None
    except ProbeInputError as err:
        raise BadInput(f"{_FLAGS.get(err.field, err.field)}: {err}") from None
    target = _target(endpoint, base_url, model, project, region)
    progress = _Progress(enabled=sys.stderr.isatty())
    try:
        result = run_probe(target, settings, slo, progress)  # a ProbeError exits 1 with its fix
    finally:
        progress.close()
    if html_path:
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(report.render_html(result, f"Load probe of {target.label}"))
    if results_path:
        with open(results_path, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    if as_json:
        click.echo(json.dumps(report.summary(result), indent=1))
    else:
        click.echo(report.render_text(result))
        for path in filter(None, (html_path, results_path)):
            click.echo(f"written: {path}")
    if result.get("interrupted"):
        click.echo("interrupted (Ctrl-C): the levels above are those measured before it", err=True)
        sys.exit(130)
    sys.exit(0 if result["slo"]["passed"] else 1)


def _target(endpoint: str, base_url: str, model: str, project: str, region: str):
    from vllm_vertex import naming
    from vllm_vertex.cloud.probe import ProbeTarget, vertex_target
    from vllm_vertex.cloud.smoke import read_endpoint

    if bool(endpoint) == bool(base_url):
        raise BadInput("give exactly one of --endpoint (a Vertex endpoint) or --base-url (an OpenAI-compatible URL).")
    if endpoint:
        name = naming.endpoint_resource_name(endpoint, *location_for(endpoint, project, region))
        require_credentials()
        found = read_endpoint(name)
        return vertex_target(found.name, found.dedicated_endpoint_dns)
    base_url, model = served_target(base_url, model)
    return ProbeTarget(base_url, model, streaming=True, label=base_url, api_key=_api_key())


def _api_key() -> str:
    import os

    return os.environ.get("OPENAI_API_KEY", "EMPTY")


class _NoModelsRoute(Exception):
    """``GET /models`` answered 404: the URL is not an OpenAI-compatible API's base (often: /v1 is missing)."""


def served_target(base_url: str, model: str) -> tuple[str, str]:
    """The base URL to use and the model: ``--model``, else the first the server serves.

    A URL without ``/v1`` whose ``/models`` is not found but whose ``/v1/models`` answers is used with ``/v1``
    (said on stderr); one that answers neither is refused with the fix. Unreachable: one line, exit 2.
    """
    base_url = base_url.rstrip("/")
    try:
        found = _served_model(base_url, model)
    except _NoModelsRoute:
        if model and base_url.endswith("/v1"):
            return base_url, model  # a server without /models: the model given is all it needs
        if base_url.endswith("/v1"):
            raise BadInput(f"--base-url {base_url}: GET /models answered HTTP 404: is this an OpenAI-compatible "
                           "server (vLLM: http://HOST:8000/v1)? Or pass --model NAME.") from None
        try:
            found = _served_model(base_url + "/v1", model)
        except _NoModelsRoute:
            raise BadInput(f"--base-url {base_url}: neither {base_url}/models nor {base_url}/v1/models exists: "
                           "give the OpenAI-compatible base URL (vLLM: http://HOST:8000/v1).") from None
        click.echo(f"note: {base_url} has no /models but {base_url}/v1 has: using {base_url}/v1 (OpenAI-compatible "
                   "servers answer under /v1)", err=True)
        base_url += "/v1"
    return base_url, found


def _served_model(base_url: str, model: str) -> str:
    """Checks the URL answers (``GET /models``); the first served model when ``--model`` is not given."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=_api_key(), max_retries=0, timeout=15)
    try:
        served = client.models.list().data
    except openai.APIConnectionError as err:
        cause = err.__cause__ or err
        raise BadInput(
            f"--base-url {base_url} is not reachable ({type(cause).__name__}): start the server or fix the URL "
            "(it ends in /v1 for vLLM)."
        ) from None
    except openai.APIStatusError as err:
        if err.status_code == 404:
            raise _NoModelsRoute() from None
        if model:
            return model
        status = err.status_code
        raise BadInput(f"--base-url {base_url}: GET /models answered HTTP {status}: pass --model NAME.") from None
    if model:
        return model
    if not served:
        raise BadInput(f"--base-url {base_url} serves no model (GET /models is empty): pass --model NAME.")
    return served[0].id


class _Progress:
    """A live bar on stderr when it is a terminal: ``level c=16 [#####.....] 40/80``."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self._shown = enabled, False

    def __call__(self, event: dict) -> None:
        if not self.enabled or "total" not in event:
            return
        done, total = event["done"], event["total"]
        filled = int(30 * done / max(1, total))
        line = f"\r{event['phase']} c={event['concurrency']:<4} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}"
        click.echo(line, nl=False, err=True)
        self._shown = True

    def close(self) -> None:
        if self._shown:
            click.echo("", err=True)
