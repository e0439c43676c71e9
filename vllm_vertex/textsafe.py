"""Text from elsewhere (a model's answer, a server's error, a user's value) made safe to show. Pure.

One place for every report and every printed line: credentials masked (``redact.mask``), control
characters removed or shown escaped, Markdown and HTML escaped for their target, lengths capped,
and image URLs kept only for the schemes a report may show.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse

from vllm_vertex.redact import mask

__all__ = ["html_text", "md_image", "md_json", "md_text", "plain", "terminal"]

# C0 controls, DEL, C1 controls, and the Unicode bidirectional overrides that reorder what is shown.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Backslash-escaped in Markdown text: no code span, link, image or table cell can start or end.
# (Emphasis with * or _ is left alone: harmless, and names such as text_predict stay readable.)
_MD_SPECIAL = re.compile(r"([\\`\[\]|])")
# Kept unencoded in an image URL: no quote, space, bracket or parenthesis can end ``![...](...)``.
_URL_SAFE = "-._~:/?#@!$&*+,;=%"
_IMAGE_URL = re.compile(r"(?:https?://[^\s]+|gs://[^\s]+|data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]*)\Z", re.I)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def plain(text: object, limit: int = 0, keep: str = "\n\t") -> str:
    """``text`` masked, without control characters (``keep`` stays), capped at ``limit`` characters (0: none)."""
    text = mask(text if isinstance(text, str) else str(text))
    text = _CONTROLS.sub(lambda m: m.group(0) if m.group(0) in keep else "", text)
    return _cap(text, limit) if limit else text


def md_text(text: object, limit: int = 400) -> str:
    """``text`` as one line of Markdown, shown as written: masked, no controls, Markdown and HTML escaped.

    Newlines become ``<br>`` (the only HTML emitted), so the text stays inside a table cell or list item.
    """
    text = plain(text, limit, keep="\n\t").replace("\t", " ")
    text = html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=True)
    return text.replace("\r\n", "\n").replace("\n", "<br>")


def md_image(url: str, alt: str = "image") -> str:
    """A Markdown image of ``url`` when it is an http(s), gs or ``data:image/...;base64`` URL, else ""."""
    url = url.strip()
    if _CONTROLS.search(url) or not _IMAGE_URL.match(url):
        return ""
    return f"![{md_text(alt, 80)}]({urllib.parse.quote(url, safe=_URL_SAFE)})"


def md_json(value: object) -> str:
    """``value`` as a fenced JSON block, masked: no backtick, ``<``, ``>`` or ``&`` left to end the fence or open HTML.

    Those characters are written as JSON ``\\u`` escapes, so the block is still the same JSON.
    """
    text = json.dumps(value, indent=2, ensure_ascii=True)
    text = mask(text)
    for char in "`<>&":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return f"```json\n{text}\n```"


def html_text(text: object, limit: int = 0) -> str:
    """``text`` for HTML: masked, no control characters except newline and tab, escaped, capped."""
    return html.escape(plain(text, limit), quote=True)


def terminal(text: str) -> str:
    """``text`` masked, with control characters shown escaped (``\\x1b``): no escape sequence reaches a terminal.

    Newline and tab stay; so does a carriage return that starts the text (a progress line redrawn in place).
    """
    text = mask(text)
    head = "\r" if text.startswith("\r") else ""
    body = text[len(head) :]
    return head + _CONTROLS.sub(lambda m: m.group(0) if m.group(0) in "\n\t" else _escaped(m.group(0)), body)


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
