"""What a probe sends: settings (validated), pipeline profiles, synthetic prompts.

Prompts are random words from a fixed vocabulary of short common English words (one token each
in Llama-family tokenizers), different for every request so prefix caching cannot shortcut them.
``input_tokens`` is what the server counts (``usage.prompt_tokens``, chat template included): the
warm-up request calibrates words per token against the server's own tokenizer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from vllm_vertex.errors import ProbeInputError
from vllm_vertex.payloads import chat_messages  # one user turn, image first: the smoke checks' form

__all__ = [
    "PROFILES",
    "ProbeSettings",
    "calibrated_words",
    "chat_messages",
    "parse_concurrency",
    "prompt_words",
    "settings_for_profile",
]

_VOCAB = (
    "the of and to in is was for on that with as by at from his her they this had not are but be have one all "
    "were when there can an which their said if do will each about how up out them then she many some so these "
    "would other into has more two like him see time could no make than first been its who now people my made "
    "over did down only way find use may water long little very after words called just where most know get "
    "through back much before go good new write our used me man too any day same right look think also around "
    "another came come work three word must because does part even place well such here take why things help "
    "put years different away again off went old number great tell men say small every found still between name "
    "should home big give air line set own under read last never us left end along while might next sound below "
    "saw something thought both few those always looked show large often together asked house world going want"
).split()


@dataclass(frozen=True)
class ProbeSettings:
    """One probe.

    Attributes:
        concurrency: Closed-loop levels: requests kept in flight at each level.
        num_requests: Requests sent at each level (after one warm-up that is not counted).
        input_tokens: Prompt tokens per request, as the server counts them.
        output_tokens: ``max_tokens`` per request; vLLM is asked to ignore EOS so every request generates them.
        image_url: With a URL, every other request is image+text (multimodal models).
        level_seconds: Time budget of one level: no new request is sent after it (0: none).
        timeout_s: Per-request timeout.
        find_capacity: Search the highest concurrency within the SLO after the levels.
        capacity_max_requests: Request budget of the search.
        capacity_max_seconds: Time budget of the search.
        capacity_limit: Highest concurrency the search tries.
        ttft_estimate_every: Without streaming: one ``max_tokens=1`` request per this many requests.
        seed: Seed of the synthetic prompts.
    """

    concurrency: tuple[int, ...] = (1, 4, 16)
    num_requests: int = 64
    input_tokens: int = 256
    output_tokens: int = 128
    image_url: str = ""
    level_seconds: float = 0.0
    timeout_s: float = 600.0
    find_capacity: bool = False
    capacity_max_requests: int = 2000
    capacity_max_seconds: float = 600.0
    capacity_limit: int = 512
    ttft_estimate_every: int = 4
    seed: int = 0

    def validate(self) -> ProbeSettings:
        """Returns self; raises ``ProbeInputError`` naming the field and the fix."""
        if not self.concurrency:
            raise ProbeInputError("concurrency", "give at least one concurrency level, e.g. 1,4,16")
        bad = [c for c in self.concurrency if c <= 0]
        if bad:
            raise ProbeInputError("concurrency", f"concurrency must be 1 or more (got {bad[0]}): e.g. 1,4,16")
        for name in ("num_requests", "input_tokens", "output_tokens", "ttft_estimate_every"):
            if getattr(self, name) <= 0:
                raise ProbeInputError(name, f"{name} must be 1 or more (got {getattr(self, name)})")
        if self.timeout_s <= 0:
            raise ProbeInputError("timeout_s", f"the request timeout must be above 0 s (got {self.timeout_s:g})")
        if self.level_seconds < 0:
            raise ProbeInputError("level_seconds", "the level time budget must be 0 (none) or more")
        if self.find_capacity:
            if self.capacity_max_requests <= 0:
                raise ProbeInputError("capacity_max_requests", "the capacity search needs a request budget above 0")
            if self.capacity_max_seconds <= 0:
                raise ProbeInputError("capacity_max_seconds", "the capacity search needs a time budget above 0 s")
            if self.capacity_limit <= 0:
                raise ProbeInputError("capacity_limit", "the capacity search limit must be 1 or more")
        return self


def parse_concurrency(text: str) -> tuple[int, ...]:
    """``"1,4,16"`` → ``(1, 4, 16)``; raises ``ProbeInputError`` for anything else."""
    try:
        levels = tuple(int(x) for x in str(text).replace(" ", "").split(",") if x)
    except ValueError:
        raise ProbeInputError("concurrency", f"{text!r} is not a list of whole numbers: write e.g. 1,4,16") from None
    ProbeSettings(concurrency=levels).validate()
    return levels


# Pipeline profiles: off, quick (about a minute), standard (about five), capacity (standard + search).
PROFILES: dict[str, dict[str, Any]] = {
    "quick": dict(concurrency=(1, 4), num_requests=16, input_tokens=128, output_tokens=64, level_seconds=25.0),
    "standard": dict(
        concurrency=(1, 4, 16, 64), num_requests=100, input_tokens=512, output_tokens=128, level_seconds=70.0
    ),
    "capacity": dict(
        concurrency=(1, 16),
        num_requests=64,
        input_tokens=512,
        output_tokens=128,
        level_seconds=60.0,
        find_capacity=True,
        capacity_max_requests=3000,
        capacity_max_seconds=480.0,
    ),
}


def settings_for_profile(profile: str, image_url: str = "") -> ProbeSettings | None:
    """The settings of a pipeline profile (None for ``off``)."""
    if profile == "off":
        return None
    if profile not in PROFILES:
        raise ProbeInputError(
            "probe_profile", f"unknown probe profile {profile!r}: use off, quick, standard or capacity"
        )
    return ProbeSettings(**PROFILES[profile], image_url=image_url)


def prompt_words(index: int, words: int, seed: int = 0) -> str:
    """Request ``index``'s prompt: ``words`` random vocabulary words, reproducible from ``seed``."""
    rng = random.Random(seed * 1_000_003 + index)
    return " ".join(rng.choice(_VOCAB) for _ in range(max(1, words)))


def calibrated_words(target_tokens: int, samples: list[tuple[int, int]]) -> int:
    """Words that make ``target_tokens`` prompt tokens as the server counts them.

    ``samples`` are (words sent, ``usage.prompt_tokens``) of calibration requests. Two samples with
    different word counts fit tokens = template + per_word × words (the chat template adds fixed
    tokens); one sample assumes no template. Without usable samples, one word per token.
    """
    pts = [(w, t) for w, t in samples if w > 0 and t > 0]
    if not pts:
        return max(1, target_tokens)
    (w1, t1), (w2, t2) = pts[0], pts[-1]
    if w2 != w1 and t2 > t1:
        per_word = (t2 - t1) / (w2 - w1)
        template = t1 - per_word * w1
    else:
        per_word, template = t1 / w1, 0.0
    return max(1, round((target_tokens - template) / per_word))
