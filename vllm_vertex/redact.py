"""Credentials never echoed: one place that knows what a secret looks like and masks it. Pure.

Every message that can quote a user's value (``ConfigError``, the CLI's errors, the
validate-config step's log) passes through ``mask``; validation refuses any field where
``find_secret`` finds one. Shapes covered: Hugging Face tokens, Google OAuth access and
refresh tokens, Google API keys, PEM private keys (also JSON-escaped, as in a service
account key file), JSON Web Tokens, and the common GitHub, OpenAI, AWS and Slack keys.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "SECRET_KINDS", "find_secret", "mask", "mask_value"]

MASK = "****"

# (kind, pattern, how many leading characters may stay visible so the user recognises what it was)
# Distinctive prefixes are matched anywhere (a repr turns a newline before a token into "\\n", so no
# word boundary); short ones (sk-, AKIA) need one.
SECRET_KINDS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("private key", re.compile(r"-----BEGIN[^-\n]{0,40}PRIVATE KEY-----(?:.*?-----END[^-\n]{0,40}PRIVATE KEY-----|.*)",
                               re.S), 0),
    ("Hugging Face token", re.compile(r"hf_[A-Za-z0-9]{16,}"), 3),
    ("Hugging Face token", re.compile(r"api_org_[A-Za-z0-9]{16,}"), 8),
    ("Google access token", re.compile(r"ya29\.[A-Za-z0-9_\-.]{8,}"), 5),
    ("Google refresh token", re.compile(r"(?<![\w/])1//0[A-Za-z0-9_\-]{16,}"), 4),
    ("Google API key", re.compile(r"AIza[0-9A-Za-z_\-]{30,}"), 4),
    ("JSON Web Token", re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"), 3),
    ("GitHub token", re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), 4),
    ("OpenAI key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}"), 3),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), 4),
    ("Slack token", re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"), 5),
)


def find_secret(text: str) -> str | None:
    """The kind of the first credential-shaped substring of ``text`` (e.g. "Hugging Face token"), or None."""
    for kind, pattern, _ in SECRET_KINDS:
        if pattern.search(text):
            return kind
    return None


def mask(text: str) -> str:
    """``text`` with every credential-shaped substring replaced by its first characters and ``****``."""
    if not isinstance(text, str):
        text = str(text)
    for _, pattern, keep in SECRET_KINDS:
        text = pattern.sub(lambda m, keep=keep: m.group(0)[:keep] + MASK, text)  # type: ignore[misc]  # mypy cannot type a lambda's default argument
    return text


def mask_value(value: object) -> object:
    """``value`` with ``mask`` applied to every string inside it (dicts, lists and tuples walked)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask_value(k): mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(v) for v in value)
    return value
