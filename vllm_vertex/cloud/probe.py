"""The load probe's client: closed-loop concurrency levels over ``aiohttp``, as ``vllm bench serve`` runs them.

Per level, like ``vllm bench serve --max-concurrency C --request-rate inf``: every request is a task
that waits on a semaphore of ``C`` slots, the level's duration runs from the first task to the
last answer, and the figures come from ``vllm_vertex.probe.metrics``. Before the first level, two
``max_tokens=1`` requests calibrate the prompt length against the server's tokenizer and one full
request warms the server up; none of them is counted.

Streaming targets (any OpenAI-compatible base URL, dedicated Vertex endpoints) stream with
``stream_options.include_usage``; shared Vertex endpoints cannot stream, so their requests are
plain and a ``max_tokens=1`` request every few requests estimates TTFT within the same load.
A failed request (HTTP error, timeout, a stream cut before the response finished) is recorded;
the probe itself never crashes on one.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from vllm_vertex.errors import ProbeError, ProbeInputError
from vllm_vertex.probe import capacity as cap
from vllm_vertex.probe import metrics, workload
from vllm_vertex.probe import slo as slo_mod
from vllm_vertex.probe.records import RequestRecord, StreamTimer

__all__ = [
    "GoogleToken",
    "ProbeTarget",
    "Progress",
    "StepOutcome",
    "run_probe",
    "run_step",
    "vertex_target",
]

Progress = Callable[[dict], None]


@dataclass(frozen=True)
class ProbeTarget:
    """Where the probe sends requests.

    Attributes:
        base_url: OpenAI-compatible base URL (``.../v1`` or Vertex's ``.../endpoints/E``).
        model: Model name (Vertex routes take ``""``).
        streaming: Whether the route streams (False for shared Vertex endpoints).
        label: What reports name: the endpoint or the base URL.
        api_key: A key, or an async callable returning a fresh one (Google access tokens last an hour).
    """

    base_url: str
    model: str = ""
    streaming: bool = True
    label: str = ""
    api_key: str | Callable[[], Awaitable[str]] = "EMPTY"


class GoogleToken:
    """Async callable giving a Google access token, refreshed five minutes before it expires.

    The probe awaits it before every request, so a probe longer than the token's hour keeps working.
    """

    def __init__(
        self, credentials, margin_s: float = 300.0, now: Callable[[], datetime.datetime] | None = None
    ) -> None:
        self.credentials, self.margin = credentials, datetime.timedelta(seconds=margin_s)
        self._now = now or (lambda: datetime.datetime.now(datetime.UTC).replace(tzinfo=None))
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def _stale(self) -> bool:
        creds = self.credentials
        return not creds.token or creds.expiry is None or creds.expiry - self._now() <= self.margin

    async def __call__(self) -> str:
        if self._stale():
            async with self._lock:
                if self._stale():
                    import google.auth.transport.requests

                    await asyncio.to_thread(self.credentials.refresh, google.auth.transport.requests.Request())
                    self.refreshes += 1
        return self.credentials.token


def vertex_target(endpoint_name: str, dedicated_dns: str = "") -> ProbeTarget:
    """A Vertex endpoint's OpenAI surface: streamed when it is dedicated, plain when shared."""
    from vllm_vertex.cloud.context import current

    region = endpoint_name.split("/")[3]
    context = current()
    base_url = context.openai_base_url(endpoint_name, region, dedicated_dns)
    key = "anonymous" if context.overridden else GoogleToken(context.credentials())
    return ProbeTarget(base_url, "", streaming=bool(dedicated_dns), label=endpoint_name, api_key=key)


def _error_text(err: BaseException, timeout_s: float) -> str:
    import aiohttp

    if isinstance(err, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return f"timed out after {timeout_s:g} s"
    if isinstance(err, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return f"the stream broke: {type(err).__name__}: {str(err)[:160]}"
    if isinstance(err, aiohttp.ClientConnectionError):
        return f"connection error: {type(err).__name__}: {str(err)[:160]}"
    return f"{type(err).__name__}: {str(err)[:200]}"


def _status_text(status: int, body: bytes) -> str:
    """``HTTP 503: <the server's message>`` from an error answer (OpenAI's and Google's error shapes)."""
    message = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, list) and data:  # Google's REST errors sometimes come as a one-element list
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error", data)
        message = str(err.get("message") or err) if isinstance(err, dict) else str(err)
    return f"HTTP {status}: {message[:200]}"


class _Sender:
    """Sends one chat request over one shared ``aiohttp`` session and times it, as vLLM's client does.

    ``vllm bench serve`` drives its requests with aiohttp and parses the stream itself; so does the probe.
    Measured on 2 cores (docs/benchmarks.md): through the ``openai`` SDK (httpx) the client itself was the
    bottleneck at 256 concurrent streams (each request built and validated on the event loop, and SSE lines
    decoded in pure Python), with the median TTFT several times the server's.
    """

    def __init__(self, session, target: ProbeTarget, settings: workload.ProbeSettings) -> None:
        self.session, self.target, self.settings = session, target, settings
        self.url = target.base_url.rstrip("/") + "/chat/completions"
        self.models_url = target.base_url.rstrip("/") + "/models"
        self.proxy = _env_proxy(self.url)

    async def _headers(self) -> dict[str, str]:
        key = self.target.api_key
        token = key if isinstance(key, str) else await key()
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def send(self, messages: list[dict], max_tokens: int, kind: str = "main") -> RequestRecord:
        body = {"model": self.target.model, "messages": messages, "max_tokens": max_tokens, "ignore_eos": True}
        if self.target.streaming:
            body.update(stream=True, stream_options={"include_usage": True})
        start = time.perf_counter()
        timer = StreamTimer(start, kind)
        try:
            headers = await self._headers()
            post = self.session.post(self.url, data=json.dumps(body), headers=headers, proxy=self.proxy)
            async with post as response:
                if response.status != 200:
                    return timer.fail(_status_text(response.status, await response.read()))
                if self.target.streaming:
                    return await self._streamed(response, timer)
                payload = await response.read()
                end = time.perf_counter()
        except Exception as err:  # recorded, never raised: a broken stream is a failed request
            return timer.fail(_error_text(err, self.settings.timeout_s))
        return _plain_record(payload, start, end, kind)

    async def open_connection(self) -> None:
        """One cheap request (``GET .../models``, the OpenAI list route) that leaves a connection in the pool.

        Not timed, not counted; any answer will do (Vertex routes answer 404), and a failure is left to
        the level's own requests to report."""
        try:
            headers = await self._headers()
            async with self.session.get(self.models_url, headers=headers, proxy=self.proxy) as response:
                await response.read()
        except Exception:  # noqa: BLE001 - the level's requests report a server that does not answer
            pass

    @staticmethod
    async def _streamed(response, timer: StreamTimer) -> RequestRecord:
        """Reads the SSE body as it arrives and times each ``data:`` event when it is taken up, before it is
        parsed with ``json.loads``, exactly as vLLM's client does (events that arrived in one read are
        microseconds apart, not 0). The body is read to its end, so the connection goes back to the pool."""
        pending = b""
        async for data in response.content.iter_any():
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                if not line.startswith(b"data:"):
                    continue  # blank separators, SSE comments (pings), event names
                line = line[5:].strip()
                if line == b"[DONE]":
                    continue
                now = time.perf_counter()
                chunk = json.loads(line)
                if chunk.get("error"):
                    return timer.fail(f"error in the stream: {str(chunk['error'])[:200]}")
                choices = chunk.get("choices")
                finish = choices[0].get("finish_reason") if choices else None
                timer.chunk(now, bool(choices), None if choices else chunk.get("usage"), finish)
        return timer.finish()


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``NO_PROXY``, ...), read once.

    aiohttp's ``trust_env`` would read the environment and ``~/.netrc`` again on every request, in a
    thread: 0.5 ms a request, which at hundreds of requests starting together delays the last ones.
    """
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass_environment(parts.hostname or ""):  # type: ignore[attr-defined]  # not in typeshed
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


def _plain_record(payload: bytes, start: float, end: float, kind: str) -> RequestRecord:
    """A request that was not streamed: E2EL only, token counts from ``usage``."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return RequestRecord(False, start, kind=kind, error="the answer is not JSON")
    if not isinstance(answer, dict) or not answer.get("choices"):
        return RequestRecord(False, start, kind=kind, error="the answer has no choices")
    usage = answer.get("usage") or {}
    return RequestRecord(
        True,
        start,
        end - start,
        None,
        [],
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        kind=kind,
    )


class _Workload:
    """Prompts of the calibrated length; every other request carries the image when one is given."""

    def __init__(self, settings: workload.ProbeSettings) -> None:
        self.settings = settings
        self.words = settings.input_tokens
        self._next = 0

    def messages(self, image: bool | None = None) -> tuple[list[dict], bool]:
        """The next request's messages, and whether they carry the image."""
        i, self._next = self._next, self._next + 1
        text = workload.prompt_words(i, self.words, self.settings.seed)
        with_image = bool(self.settings.image_url) and ((i % 2 == 1) if image is None else image)
        return workload.chat_messages(text, self.settings.image_url if with_image else ""), with_image


async def _calibrate(sender: _Sender, load: _Workload, progress: Progress) -> dict:
    """Two ``max_tokens=1`` requests fit words → prompt tokens; then one full warm-up request."""
    target = load.settings.input_tokens
    samples = []
    for words in (max(1, target // 2), max(2, target)):
        text = workload.prompt_words(10**6 + words, words, load.settings.seed)
        rec = await sender.send(workload.chat_messages(text), 1, kind="warmup")
        if rec.success and rec.prompt_tokens:
            samples.append((words, rec.prompt_tokens))
    load.words = workload.calibrated_words(target, samples)
    warm = await sender.send(load.messages(image=True)[0], load.settings.output_tokens, "warmup")
    progress({"phase": "warmup", "ok": warm.success})
    if not warm.success:
        raise ProbeError(f"the warm-up request failed: {warm.error}")
    return {
        "words_per_prompt": load.words,
        "calibration": samples,
        "prompt_tokens": warm.prompt_tokens,
        "output_tokens": warm.output_tokens,
        "latency_s": warm.latency,
    }


async def _level(
    sender: _Sender, load: _Workload, concurrency: int, n: int, goodput: dict, progress: Progress, phase: str
) -> tuple[dict, list[RequestRecord]]:
    """One closed-loop level of ``n`` counted requests (plus TTFT estimates without streaming)."""
    settings = sender.settings
    every = settings.ttft_estimate_every
    jobs: list[str] = []
    for i in range(n):
        jobs.append("main")
        if not sender.target.streaming and i % every == every - 1:
            jobs.append("ttft_estimate")
    if not sender.target.streaming and "ttft_estimate" not in jobs:
        jobs.append("ttft_estimate")
    semaphore = asyncio.Semaphore(concurrency)
    # Open the level's connections first, so that its first requests are not timed through TCP (and TLS)
    # handshakes that hundreds of them would do at once on this client's cores.
    await asyncio.gather(*(sender.open_connection() for _ in range(concurrency)))
    lag = _LoopLag()
    watch = asyncio.create_task(lag.watch())
    begin = time.perf_counter()
    deadline = begin + settings.level_seconds if settings.level_seconds else None
    done = {"n": 0}

    async def one(kind: str) -> RequestRecord | None:
        async with semaphore:
            if deadline is not None and time.perf_counter() > deadline:
                return None  # the level's time budget is spent: not sent, not counted
            max_tokens = 1 if kind == "ttft_estimate" else settings.output_tokens
            messages, image = load.messages(False if kind == "ttft_estimate" else None)
            rec = await sender.send(messages, max_tokens, kind)
            rec.image = image
        done["n"] += 1
        progress({"phase": phase, "concurrency": concurrency, "done": done["n"], "total": len(jobs)})
        return rec

    results = await asyncio.gather(*(one(kind) for kind in jobs))
    duration = time.perf_counter() - begin
    watch.cancel()
    records = [r for r in results if r is not None]
    level = metrics.summarize_level(records, duration, concurrency, goodput, sender.target.streaming)
    level["client_loop_lag_p99_ms"] = lag.p99_ms()
    level["image_requests"] = sum(1 for r in records if r.kind == "main" and r.image)
    return level, records


class _LoopLag:
    """How late the event loop wakes a short timer while a level runs: the client's own delay."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval = interval_s
        self.late_ms: list[float] = []

    async def watch(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.late_ms.append(max(0.0, (time.perf_counter() - t - self.interval) * 1000))

    def p99_ms(self) -> float | None:
        return round(metrics.percentile(self.late_ms, 99), 3) if self.late_ms else None


def _samples(records: list[RequestRecord], streaming: bool) -> dict:
    ok = [r for r in records if r.success and r.kind == "main"]
    ttft = (
        [r.ttft * 1000 for r in ok if r.ttft is not None]
        if streaming
        else [r.latency * 1000 for r in records if r.success and r.kind == "ttft_estimate"]
    )
    return {"ttft_ms": ttft, "e2el_ms": [r.latency * 1000 for r in ok], "itl_ms": [g * 1000 for r in ok for g in r.itl]}


async def _run(target: ProbeTarget, settings: workload.ProbeSettings, slo: dict, progress: Progress) -> dict:
    import aiohttp

    # One pool for the probe, unlimited like vLLM's at ``--request-rate inf`` (the levels' semaphores bound
    # the requests in flight). The environment's proxy is read once (``_env_proxy``), not per request.
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
        timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
    )
    goodput = slo_mod.goodput_limits(slo)
    sender, load = _Sender(session, target, settings), _Workload(settings)
    try:
        warmup = await _calibrate(sender, load, progress)
        levels = []
        interrupted = False
        try:
            for c in settings.concurrency:
                level, records = await _level(sender, load, c, settings.num_requests, goodput, progress, "level")
                level["samples"] = _samples(records, target.streaming)
                levels.append(level)
        except asyncio.CancelledError:  # Ctrl-C (asyncio.run cancels the task): keep the levels measured so far
            if not levels:
                raise
            interrupted = True
        notes = [n for n in map(metrics.client_note, levels) if n]
        if interrupted:
            notes.append(f"interrupted (Ctrl-C) after {len(levels)} of {len(settings.concurrency)} concurrency "
                         "levels: the figures are those of the levels measured so far")
        result: dict[str, object] = {
            "levels": levels, "slo": slo_mod.gate(slo, levels), "warmup": warmup, "client_notes": notes
        }
        if interrupted:
            result["interrupted"] = True
        elif settings.find_capacity:
            result["capacity"] = await _capacity(sender, load, settings, slo, goodput, progress)
    finally:
        await session.close()
    return result


async def _capacity(sender, load, settings, slo, goodput, progress) -> dict:
    search = cap.CapacitySearch(
        settings.num_requests,
        settings.capacity_max_requests,
        settings.capacity_max_seconds,
        limit=settings.capacity_limit,
    )
    while (c := search.next_concurrency()) is not None:
        level, _ = await _level(
            sender, load, c, cap.requests_for_level(c, settings.num_requests), goodput, progress, "capacity"
        )
        verdict = slo_mod.gate(slo, [level])
        search.record(c, level, verdict["passed"], verdict["missed"])
    return search.result()


def run_probe(
    target: ProbeTarget,
    settings: workload.ProbeSettings,
    slo: dict[str, float] | None = None,
    progress: Progress | None = None,
) -> dict:
    """Runs the probe and returns the full result (JSON-ready).

    Returns:
        ``{"target", "model", "streaming", "ttft_estimated", "settings", "warmup", "levels", "slo"}``
        and ``"capacity"`` when ``settings.find_capacity``; each level has vLLM's keys and ``samples``.

    Raises:
        ProbeError: the warm-up request failed (the server is not answering as expected).
        ProbeInputError: a setting is out of range, or ``find_capacity`` without an SLO.
    """
    settings.validate()
    slo = dict(slo or {})
    if settings.find_capacity and not slo:
        raise ProbeInputError(
            "slo", "the capacity search needs an SLO to search under: give e.g. p95_ttft_ms=500"
        )
    started = datetime.datetime.now(datetime.UTC)
    result = asyncio.run(_run(target, settings, slo, progress or (lambda event: None)))
    return {
        "target": target.label or target.base_url,
        "model": target.model,
        "streaming": target.streaming,
        "ttft_estimated": not target.streaming,
        "started": started.isoformat(timespec="seconds"),
        "settings": {**asdict(settings), "concurrency": list(settings.concurrency)},
        **result,
    }


@dataclass(frozen=True)
class StepOutcome:
    """What the pipeline's probe step reports.

    Attributes:
        verdict: ``passed`` (SLO met, or no SLO), ``failed`` (SLO missed, or the probe could not run)
            or ``skipped`` (profile off, or the smoke tests failed).
        summary: One line for logs and the gate's error.
        result: The full probe result (None when skipped or when the probe could not start).
    """

    verdict: str
    summary: str
    result: dict | None = None


def run_step(cfg, endpoint_name: str, dedicated_dns: str, smoke_verdict: str) -> StepOutcome:
    """The pipeline step's work: the profile's probe against the deployed endpoint, never raising for a miss."""
    from vllm_vertex.probe import parse_slo, report, settings_for_profile

    image = cfg.smoke_image_url if cfg.multimodal and cfg.run_image_checks else ""
    settings = settings_for_profile(cfg.probe_profile, image_url=image)
    if settings is None:
        return StepOutcome("skipped", "probe_profile is off: nothing measured")
    if smoke_verdict != "passed":
        return StepOutcome("skipped", "the smoke tests failed: the endpoint was not measured")
    slo = parse_slo(cfg.probe_slo)
    target = vertex_target(endpoint_name, dedicated_dns)
    try:
        result = run_probe(target, settings, slo, progress=_log_levels)
    except ProbeError as err:
        return StepOutcome("failed", f"the probe could not run: {err}")
    text = report.render_text(result)
    print(text)
    gate = result["slo"]
    if not gate["passed"]:
        return StepOutcome("failed", "SLO missed: " + "; ".join(gate["missed"]), result)
    line = "SLO met" if gate["gated"] else "measured (no SLO given)"
    if "capacity" in result:
        line += f"; capacity: {result['capacity']['summary']}"
    return StepOutcome("passed", line, result)


def _log_levels(event: dict) -> None:
    if event.get("phase") == "warmup":
        print(f"warm-up request {'answered' if event['ok'] else 'FAILED'}")
    elif "total" in event and event["done"] == event["total"]:
        print(f"{event['phase']} at concurrency {event['concurrency']}: {event['total']} requests done")
