"""Smoke-test requests and answer parsing for Google's vLLM container. Pure.

Predict route (``/generate``): ``{"instances": [{"prompt": ..., "max_tokens": ..., ...}]}`` →
``{"predictions": ["Prompt:\\n<prompt>\\nOutput:\\n<text>"]}``, or the bare text with
``raw_response``. Image+text adds ``"multi_modal_data": {"image": <url>}``. Chat goes through
the OpenAI chat-completions surface with ``image_url`` content parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vllm_vertex.errors import PredictionFormatError

__all__ = [
    "DEFAULT_IMAGE_PROMPT",
    "SamplingParams",
    "chat_messages",
    "image_instance",
    "parse_prediction",
    "text_instance",
]

# Llama 3.2 Vision base-model prompt form (the seed's): the image token, then the text.
DEFAULT_IMAGE_PROMPT = "<|begin_of_text|><|image|>This is a picture of"


@dataclass(frozen=True)
class SamplingParams:
    """Sampling parameters the container turns into vLLM SamplingParams."""

    max_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 1

    def as_dict(self) -> dict[str, Any]:
        """The parameters as instance keys."""
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
        }


def text_instance(prompt: str, sampling: SamplingParams, raw_response: bool = False) -> dict[str, Any]:
    """One predict instance for a text prompt."""
    return {"prompt": prompt, **sampling.as_dict(), "raw_response": raw_response}


def image_instance(prompt: str, image_url: str, sampling: SamplingParams) -> dict[str, Any]:
    """One predict instance for an image and a text prompt (``multi_modal_data``)."""
    return {"prompt": prompt, "multi_modal_data": {"image": image_url}, **sampling.as_dict()}


def chat_messages(text: str, image_url: str = "") -> list[dict[str, Any]]:
    """OpenAI chat messages: one user turn, with an ``image_url`` part first when given."""
    if not image_url:
        return [{"role": "user", "content": text}]
    return [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": image_url}}, {"type": "text", "text": text}],
        }
    ]


def parse_prediction(prediction: object, raw_response: bool = False) -> str:
    """The generated text of one prediction.

    Understands ``"Prompt:\\n...\\nOutput:\\n<text>"`` (the container's default), the bare text
    (``raw_response``), and dicts with a ``text``/``output``/``generated_text`` key.

    Raises:
        PredictionFormatError: the prediction is of a shape no container answers with.
    """
    if isinstance(prediction, dict):
        for key in ("output", "text", "generated_text"):
            if isinstance(text := prediction.get(key), str):
                return text
        raise PredictionFormatError(f"prediction has none of output/text/generated_text: {sorted(prediction)}")
    if not isinstance(prediction, str):
        raise PredictionFormatError(f"prediction is a {type(prediction).__name__}, expected a string")
    if raw_response:
        return prediction
    marker = "\nOutput:\n"
    if prediction.startswith("Prompt:\n") and marker in prediction:
        return prediction.split(marker, 1)[1]
    return prediction
