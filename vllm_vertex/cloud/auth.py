"""Application Default Credentials, checked early and explained in one line.

The CLI calls ``check()`` after it has validated its local inputs and before it compiles, imports
a heavy client or calls Google: missing, expired, revoked or unusable credentials become one
``CredentialsError`` (what is wrong + the fix) in well under a second, instead of a traceback
ten seconds later. Only ``google.auth`` is imported (~0.1 s).

Where ADC comes from, in google.auth's order: ``GOOGLE_APPLICATION_CREDENTIALS`` (a key file or a
Workload Identity Federation config), gcloud's file (``gcloud auth application-default login``),
then the metadata server (Compute Engine, GKE, Cloud Run, Cloud Build). google.auth probes the
metadata server with 3 attempts of 3 s; with no file we probe it once, briefly, ourselves.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import warnings

from vllm_vertex.errors import CredentialsError

__all__ = ["CLOUD_PLATFORM", "FIX", "check", "checked", "explain"]

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
FIX = (
    "run `gcloud auth application-default login` (CI: GOOGLE_APPLICATION_CREDENTIALS=<service-account key or "
    "Workload Identity Federation config>)"
)
METADATA_PROBE_SECONDS = 0.5
CHECK_SECONDS = 10.0

_checked = None  # the credentials check() refreshed, reused by every client of this process


def checked():
    """The credentials ``check()`` validated in this process, or None."""
    return _checked


def check(timeout: float = CHECK_SECONDS):
    """Finds Application Default Credentials and refreshes them once; returns (credentials, project).

    Raises:
        CredentialsError: none found, the file is unusable, Google refused them (expired,
            revoked, deleted key), the token service could not be reached, or it took longer
            than ``timeout`` seconds. The message names the problem and the fix.
    """
    global _checked
    result: dict = {}

    def work() -> None:
        try:
            result["value"] = _find_and_refresh()
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            result["error"] = err

    worker = threading.Thread(target=work, name="adc-check", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise CredentialsError(
            f"checking Application Default Credentials took more than {timeout:.0f} s (no answer from Google's "
            "token service): check the network or proxy, then retry"
        )
    if "error" in result:
        err = result["error"]
        if isinstance(err, CredentialsError):
            raise err
        explained = explain(err)
        if explained is None:
            raise err
        raise CredentialsError(explained) from err
    _checked = result["value"][0]
    return result["value"]


def _find_and_refresh():
    """google.auth's search order; a file is loaded directly (``google.auth.default`` would also
    run ``gcloud config config-helper`` for a project ID the CLI does not need: ~1 s)."""
    explicit = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")
    if explicit and not os.path.isfile(explicit):
        raise CredentialsError(f"GOOGLE_APPLICATION_CREDENTIALS points at {explicit}, which is not a file: fix the "
                                 f"path or unset it, or {FIX}")
    path = explicit or _gcloud_adc_path()
    if not os.path.isfile(path) and not _metadata_server_answers():
        raise CredentialsError(f"no Google credentials found (Application Default Credentials): {FIX}")
    import google.auth
    import google.auth.transport.requests

    if os.path.isfile(path):
        with warnings.catch_warnings():
            # The file google.auth.default() itself would load (it warns about files from untrusted sources).
            warnings.simplefilter("ignore", DeprecationWarning)
            creds, project = google.auth.load_credentials_from_file(path, scopes=[CLOUD_PLATFORM])
    else:
        creds, project = google.auth.default(scopes=[CLOUD_PLATFORM])
    creds.refresh(google.auth.transport.requests.Request())
    return creds, project


def _gcloud_adc_path() -> str:
    from google.auth import _cloud_sdk

    return _cloud_sdk.get_application_default_credentials_path()


def _metadata_server_answers() -> bool:
    """One short probe of the metadata server (google.auth's own takes up to 3 × 3 s when it is absent).

    Honours google.auth's ``NO_GCE_CHECK`` and ``GCE_METADATA_IP``. Any HTTP answer counts: google.auth
    then decides. Plain ``http.client``: importing requests would cost ~0.2 s on the no-credentials path.
    """
    import http.client

    if os.environ.get("NO_GCE_CHECK") == "true":
        return False
    host = os.environ.get("GCE_METADATA_IP", "169.254.169.254")
    connection = http.client.HTTPConnection(host, timeout=METADATA_PROBE_SECONDS)
    try:
        connection.request("GET", "/", headers={"Metadata-Flavor": "Google"})
        return connection.getresponse().getheader("Metadata-Flavor") == "Google"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def named_errors(what: str):
    """A google-auth error inside (refresh, transport, invalid operation) becomes ``CredentialsError``.

    Its message is ``what``, the problem and the fix, without the library's traceback chain. Usable as a
    decorator.
    """
    from google.auth import exceptions

    try:
        yield
    except exceptions.GoogleAuthError as err:
        raise CredentialsError(f"{what}: {explain(err)}") from None


def explain(err: BaseException) -> str | None:
    """One line (problem + fix) for a google.auth error, or None for anything else."""
    from google.auth import exceptions

    if not isinstance(err, exceptions.GoogleAuthError):
        return None
    text = _first_line(err)
    if isinstance(err, exceptions.DefaultCredentialsError):
        if "were not found" in text or "could not automatically determine" in text.lower():
            return f"no Google credentials found (Application Default Credentials): {FIX}"
        return f"Application Default Credentials are unusable ({text}): {FIX}"
    if isinstance(err, exceptions.RefreshError):
        lowered = text.lower()
        if "invalid_grant" in lowered or "expired" in lowered or "revoked" in lowered:
            return f"Google refused the Application Default Credentials as expired or revoked ({text}): {FIX}"
        return f"Google refused the Application Default Credentials ({text}): {FIX}"
    if isinstance(err, exceptions.TransportError):
        return (f"could not reach Google to check the credentials ({network_reason(err)}): check the network or "
                "proxy (HTTPS_PROXY), then retry")
    return f"Google credentials problem ({text}): {FIX}"


_REASONS = (
    ("NameResolution", "DNS lookup failed"),
    ("Name or service not known", "DNS lookup failed"),
    ("Temporary failure in name resolution", "DNS lookup failed"),
    ("ProxyError", "the proxy refused the connection"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted (a corporate proxy? set REQUESTS_CA_BUNDLE)"),
    ("Connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("Network is unreachable", "network unreachable"),
)


def network_reason(err: BaseException) -> str:
    """``host: reason`` for a network failure, from the requests/urllib3 text google.auth wraps."""
    text = " ".join(str(e) for e in _chain(err))
    host = re.search(r"host='([^']+)'", text)
    reason = next((r for needle, r in _REASONS if needle in text), _first_line(err))
    return f"{host.group(1)}: {reason}" if host else reason


def _chain(err: BaseException | None):
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _first_line(err: BaseException) -> str:
    """The error's own message, one line, without google.auth's appended response dicts."""
    first = err.args[0] if err.args else err
    text = str(first).strip().splitlines()[0] if str(first).strip() else type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."
