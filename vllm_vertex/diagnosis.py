"""Names the root cause of a failed deploy from Vertex's error text or the container's log. Pure.

The four failures of the seed's "Debugging common issues" section, plus the ones a deploy
commonly ends with (quota, a GPU stockout), each with its fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Diagnosis", "diagnose"]


@dataclass(frozen=True)
class Diagnosis:
    """A recognised failure: what went wrong and what to change."""

    key: str
    cause: str
    fix: str

    def text(self) -> str:
        """One paragraph for the user."""
        return f"Root cause: {self.cause} Fix: {self.fix}"


_RULES: list[tuple[re.Pattern[str], Diagnosis]] = [
    (
        re.compile(
            r"max seq len \((\d+)\) is larger than the maximum number of tokens that can be stored in KV cache"
            r" \((\d+)\)|KV cache is needed, which is larger than the available KV cache memory",
            re.I,
        ),
        Diagnosis(
            "kv_cache_too_small",
            "max_model_len is larger than the KV cache the GPU memory left after the weights can hold.",
            "lower max_model_len below the KV-cache size in the message, raise gpu_memory_utilization, "
            "or use more or larger GPUs (tensor parallel size follows accelerator_count).",
        ),
    ),
    (
        re.compile(r"CUDA out of memory|OutOfMemoryError", re.I),
        Diagnosis(
            "cuda_oom",
            "the GPU ran out of memory while vLLM profiled or loaded the model.",
            "lower max_num_seqs (multimodal models profile max_num_seqs dummy images: 12 works for "
            "Llama 3.2 11B Vision where 256 does not), set enforce_eager, lower max_model_len, "
            "or use a larger GPU.",
        ),
    ),
    (
        re.compile(
            r"gated repo|Cannot access gated repository|401 Client Error|Access to model .* is restricted", re.I
        ),
        Diagnosis(
            "hf_gated",
            "the model is gated on Hugging Face and the token is missing or has no access.",
            "accept the model's license on its Hugging Face page with the token's account, store a read "
            "token in Secret Manager and pass its version as hf_token_secret.",
        ),
    ),
    (
        re.compile(
            r"chat_template is not set|chat template is no longer allowed|default chat template|"
            r"must provide a chat template|does not define one",
            re.I,
        ),
        Diagnosis(
            "missing_chat_template",
            "the tokenizer defines no chat template, so chat completions cannot be served.",
            "set chat_template (vLLM --chat-template) to a template file or string, use an Instruct "
            "variant of the model, or turn run_chat_checks off for a base model.",
        ),
    ),
    (
        re.compile(r"quota metrics exceed quota limits|exceeds? (?:the )?quota|quota exceeded|quota limit", re.I),
        Diagnosis(
            "quota_exceeded",
            "the deploy needs more GPUs (or vCPUs) than the project's serving quota in the region allows "
            "(quota is charged at max_replica_count × GPUs per replica).",
            "request a quota increase (console: IAM & Admin > Quotas, filter CustomModelServing), lower "
            "max_replica_count, or deploy in a region where the quota covers it.",
        ),
    ),
    (
        re.compile(
            r"machine type (?:is )?temporarily unavailable|(?:does not have|not) enough resources|resources are "
            r"insufficient|resource pool exhausted|ZONE_RESOURCE_POOL_EXHAUSTED|stockout|out of capacity|"
            r"RESOURCE_EXHAUSTED|ResourceExhausted",
            re.I,
        ),
        Diagnosis(
            "stockout",
            "Vertex AI has no free machines of this type with this GPU in the region right now (a stockout).",
            "deploy in another region that offers the GPU (Vertex AI's Locations page lists GPUs per region), set "
            "spot: true (spot VMs draw on other capacity and on the Preemptible GPU quota), deploy on a "
            "reservation, or retry later.",
        ),
    ),
    (
        re.compile(r"/reservations/[^\s'\"]+'? (?:was )?not found|reservation\S* (?:\S+ )?(?:was )?not found", re.I),
        Diagnosis(
            "reservation_not_found",
            "the reservation named in reservation_name does not exist, or is not shared with this project.",
            "check the name with `gcloud compute reservations describe R --zone=Z --project=P`; a shared "
            "reservation must be shared with the project that deploys.",
        ),
    ),
    (
        re.compile(
            r"Repository Not Found|RepositoryNotFoundError|does not appear to have a file named config\.json", re.I
        ),
        Diagnosis(
            "hf_not_found",
            "the model id does not name a Hugging Face repo (or a gs:// folder with config.json).",
            "check model_id for typos; private repos need a token with access.",
        ),
    ),
]


def diagnose(text: str) -> Diagnosis | None:
    """The first recognised failure in ``text``, or None."""
    for pattern, diagnosis in _RULES:
        if pattern.search(text or ""):
            return diagnosis
    return None
