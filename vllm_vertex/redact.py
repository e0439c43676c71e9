"""Credentials never echoed: one place that knows what a secret looks like and masks it. Pure.

Every message that can quote a user's or a server's value (``ConfigError``, the CLI's output,
Vertex's errors and container log lines, job and task errors, reports, the steps' logs) passes
through ``mask``; validation refuses any field where ``find_secret`` finds one. Shapes covered:
Hugging Face tokens (also URL-encoded, ``\\u``-escaped or base64-encoded, and split across lines),
any value of ``HF_TOKEN``, ``Bearer`` tokens, credentials in a URL (``https://user:secret@host``),
Google OAuth access and refresh tokens, OAuth client secrets (``GOCSPX-``), Google API keys, PEM
private keys (with or without their header, also JSON-escaped) and ``private_key_id`` values,
JSON Web Tokens, and the common GitHub, OpenAI, AWS and Slack keys.

Escapes (``%5F``, ``\\u005f``, ``\\x5f``) are decoded before matching, and a match is masked to the
end of its token, in the text as written.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence

__all__ = ["MASK", "SECRET_KINDS", "find_secret", "looks_like_token", "mask", "mask_value"]

MASK = "****"

_BREAK = r"(?:\r?\n|(?:\\r)?\\n)"  # a line break, as written or as a repr/JSON escape
# (kind, pattern, how many leading characters of the secret may stay visible so the user recognises it).
# Where a pattern has a group named ``v``, only that group is the secret (``Bearer ``, ``HF_TOKEN=`` stay).
# A PEM body without its header: DER of a key starts "MII"; lines of base64, broken by (escaped) newlines,
# that start a word (inside a longer base64 run, e.g. an image, "MII" is chance).
# Distinctive prefixes are matched anywhere (a repr turns a newline before a token into "\\n", so no
# word boundary); short ones (sk-, AKIA) need one.
SECRET_KINDS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("private key", re.compile(r"-----BEGIN[^-\n]{0,40}PRIVATE KEY-----(?:.*?-----END[^-\n]{0,40}PRIVATE KEY-----|.*)",
                               re.S), 0),
    ("private key", _PEM_BODY := re.compile(
        rf"(?:(?<![A-Za-z0-9+/])|(?<=\\n))MII[A-Za-z0-9+/]{{40,}}(?:{_BREAK}?[A-Za-z0-9+/]{{8,}})*=*"), 0),
    ("private key id", re.compile(r"private_key_id[\"']?\s*[:=]\s*[\"']?(?P<v>[A-Za-z0-9]{16,})"), 0),
    ("Hugging Face token", re.compile(
        r"(?:\b(?:HF_TOKEN|HUGGING_FACE_HUB_TOKEN|HUGGINGFACE_HUB_TOKEN|HUGGINGFACE_TOKEN|HF_API_TOKEN)[\"']?"
        r"(?:\s*,?\s*[\"']?value[\"']?)?\s*[:=]\s*[\"']?)(?P<v>[^\s\"',;}*][^\s\"',;}]*)"), 0),
    ("Hugging Face token", re.compile(rf"hf_(?:[A-Za-z0-9]|{_BREAK}(?=[A-Za-z0-9])){{16,}}"), 3),
    ("Hugging Face token", re.compile(r"api_org_[A-Za-z0-9]{16,}"), 8),
    ("bearer token", re.compile(r"(?i:\bbearer)\s+(?P<v>[A-Za-z0-9._~+/\-]{8,}=*)"), 0),
    ("URL credentials", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*:(?P<v>[^/\s@]+)@"), 0),
    ("Google access token", re.compile(r"ya29\.[A-Za-z0-9_\-.]{8,}"), 5),
    ("Google refresh token", re.compile(r"(?<![\w/])1//0[A-Za-z0-9_\-]{16,}"), 4),
    ("Google OAuth client secret", re.compile(r"GOCSPX-[A-Za-z0-9_\-]{10,}"), 7),
    ("Google API key", re.compile(r"AIza[0-9A-Za-z_\-]{30,}"), 4),
    ("JSON Web Token", re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"), 3),
    ("GitHub token", re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), 4),
    ("OpenAI key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}"), 3),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), 4),
    ("Slack token", re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"), 5),
)
# A value that is nothing but a token, even a short one: a run file's field holding ``hf_...`` or ``ya29....``.
_WHOLE_TOKEN = re.compile(r"(?:hf_|ya29\.)[A-Za-z0-9_\-.]{8,}\Z")

_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}")
_TOKEN_TAIL = re.compile(r"(?:[A-Za-z0-9_\-.~+/=]|%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4})+")
_CONTINUATION = re.compile(rf"{_BREAK}[A-Za-z0-9_\-+/=]+")
# Base64 long enough to hold a token, short enough to be a credential rather than data (an inline image).
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{24,16384}={0,2}(?![A-Za-z0-9+/])")


def _decoded(text: str) -> tuple[str, Sequence[int]]:
    """``text`` with %XX, \\uXXXX and \\xXX escapes decoded, and where each decoded character starts in ``text``."""
    if not _ESCAPE.search(text):
        return text, range(len(text) + 1)  # nothing to decode: every character is where it was
    out: list[str] = []
    starts: list[int] = []
    pos = 0
    for m in _ESCAPE.finditer(text):
        out.append(text[pos : m.start()])
        starts.extend(range(pos, m.start()))
        token = m.group(0)
        out.append(chr(int(token[1:] if token[0] == "%" else token[2:], 16)))
        starts.append(m.start())
        pos = m.end()
    out.append(text[pos:])
    starts.extend(range(pos, len(text) + 1))
    return "".join(out), starts


def _base64_secret(run: str) -> str | None:
    """The kind of a secret hidden in a base64 run (any alignment), or None."""
    for offset in range(4):
        chunk = run[offset:].rstrip("=")
        chunk = chunk[: len(chunk) - len(chunk) % 4]
        try:
            raw = base64.b64decode(chunk, validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            continue
        for kind, pattern, _ in SECRET_KINDS:
            if pattern is not _PEM_BODY and pattern.search(raw):  # (a PEM body is a base64 run itself)
                return kind
    return None


def _spans(text: str) -> list[tuple[int, int, int, str]]:
    """(start, end, characters kept, kind) of every secret in ``text`` as written, merged where they overlap."""
    decoded, starts = _decoded(text)
    found: list[tuple[int, int, int, str]] = []
    for kind, pattern, keep in SECRET_KINDS:
        for m in pattern.finditer(decoded):
            group = "v" if "v" in pattern.groupindex else 0
            if m.start(group) < 0 or set(m.group(group)) <= {"*"}:
                continue
            start, end = starts[m.start(group)], starts[m.end(group)]
            if group == 0 and kind != "private key":  # to the end of the token, and over a line break
                tail = _TOKEN_TAIL.match(text, end)
                end = tail.end() if tail else end
                more = _CONTINUATION.match(text, end)
                end = more.end() if more else end
            found.append((start, end, keep, kind))
    if len(text) >= 24:
        for m in _BASE64_RUN.finditer(text):
            inside = any(s <= m.start() < e for s, e, _, _ in found)
            secret = None if inside else _base64_secret(m.group(0))
            if secret:
                found.append((m.start(), m.end(), 0, f"{secret} (base64)"))
    merged: list[tuple[int, int, int, str]] = []
    for span in sorted(found):
        if merged and span[0] < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], span[1]), last[2], last[3])
        else:
            merged.append(span)
    return merged


def find_secret(text: str) -> str | None:
    """The kind of the first credential-shaped substring of ``text`` (e.g. "Hugging Face token"), or None."""
    spans = _spans(text if isinstance(text, str) else str(text))
    return spans[0][3] if spans else None


def looks_like_token(value: str) -> bool:
    """A value that holds a credential: a short ``hf_``/``ya29.`` token on its own, or any shape ``mask`` knows."""
    return bool(_WHOLE_TOKEN.match(value.strip()) or find_secret(value))


def mask(text: str) -> str:
    """``text`` with every credential-shaped substring replaced by its first characters and ``****``.

    Line breaks inside a masked span stay, so a log keeps its lines.
    """
    if not isinstance(text, str):
        text = str(text)
    spans = _spans(text)
    if not spans:
        return text
    out, pos = [], 0
    for start, end, keep, kind in spans:
        secret = text[start:end]
        out.append(text[pos:start])
        breaks = [] if kind == "private key" else re.findall(_BREAK, secret[keep:])
        out.append(secret[:keep] + MASK + "".join(b + MASK for b in breaks))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mask_value(value: object) -> object:
    """``value`` with ``mask`` applied to every string inside it (dicts, lists and tuples walked)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask_value(k): mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(v) for v in value)
    return value
