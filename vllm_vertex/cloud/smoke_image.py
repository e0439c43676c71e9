"""Preflight of the smoke image: reachable, an image, small enough to send, before anything is created.

The smoke checks pass ``smoke_image_url`` on as given (``payloads.image_instance`` and
``chat_messages``): an ``https://``/``gs://`` image is fetched by the serving container, while a
``data:`` URL travels inline in the request body, which a shared endpoint caps at 1.5 MB
(a dedicated one at 10 MB).
"""

from __future__ import annotations

import base64
import binascii
import re

from vllm_vertex.config import DeploymentConfig
from vllm_vertex.preflight import Finding

__all__ = ["BODY_LIMITS", "check_smoke_image"]

BODY_LIMITS = {False: 1_500_000, True: 10_000_000}  # dedicated_endpoint → request body limit (bytes)
BODY_OVERHEAD = 4_096  # the prompt, sampling parameters and JSON around the image
FETCH_TIMEOUT_S = 10
MAX_READ = 20_000_000


FIX = "set smoke_image_url to a reachable image (https://, gs:// or data:image/...;base64,), or run_image_checks=false."


def check_smoke_image(cfg: DeploymentConfig) -> tuple[Finding | None, str | None]:
    """(a finding that blocks the run, a note) for ``cfg.smoke_image_url``; both None when fine or not used."""
    url = cfg.smoke_image_url
    if not (cfg.run_image_checks and url):
        return None, None
    if url.startswith("data:"):
        return _data_url(cfg, url), None
    try:
        if url.startswith("gs://"):
            status, content_type, size = _gcs(url, cfg.project)
        else:
            status, content_type, size = _http(url)
    except OSError as err:  # no egress from this step: the check cannot run here
        return None, f"smoke image not checked: {type(err).__name__} reaching it from this step"
    if status != 200:
        return Finding("smoke_image_unreachable", f"smoke_image_url {url[:120]} answered {status}.", FIX), None
    if not content_type.startswith("image/"):
        return Finding(
            "smoke_image_not_an_image",
            f"smoke_image_url {url[:120]} is {content_type or 'of no content type'}, not an image.",
            FIX,
        ), None
    return None, f"smoke image ok: {content_type}, {size:,} bytes" if size is not None else None


def _data_url(cfg: DeploymentConfig, url: str) -> Finding | None:
    m = re.match(r"data:(image/[a-z0-9.+-]+);base64,(.*)$", url, re.S)
    if not m:
        return Finding("smoke_image_not_an_image", "smoke_image_url is a data: URL that is not a base64 image.",
                       FIX)
    try:
        base64.b64decode(m.group(2), validate=True)
    except (binascii.Error, ValueError):
        return Finding("smoke_image_not_an_image", "smoke_image_url's base64 data does not decode.", FIX)
    limit = BODY_LIMITS[cfg.dedicated_endpoint]
    if len(url) + BODY_OVERHEAD > limit:
        kind = "dedicated" if cfg.dedicated_endpoint else "shared"
        return Finding(
            "smoke_image_too_large",
            f"smoke_image_url is an inline image of {len(url):,} bytes (base64): with the request around it, over "
            f"the {limit / 1e6:g} MB body limit of a {kind} endpoint, so every image check would be refused.",
            "use a smaller image, or an https:// or gs:// URL the container fetches itself.",
        )
    return None


def _http(url: str) -> tuple[int, str, int | None]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "vllm-vertex-preflight"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 (http(s) only)
            body = response.read(MAX_READ)
            return response.status, response.headers.get_content_type() or "", len(body)
    except urllib.error.HTTPError as err:
        return err.code, "", None


def _gcs(url: str, project: str) -> tuple[int, str, int | None]:
    from google.api_core import exceptions

    from vllm_vertex.cloud.context import current

    bucket, _, name = url.removeprefix("gs://").partition("/")
    client = current().storage(project)
    blob = client.bucket(bucket).blob(name)
    try:
        blob.reload()
    except exceptions.NotFound:
        return 404, "", None
    except exceptions.Forbidden:
        return 403, "", None
    return 200, blob.content_type or "", blob.size
