"""Google's OAuth token endpoint, locally, and a credential-less environment for the real CLI.

``TokenServer`` answers ``POST /token`` as oauth2.googleapis.com does: an access token, or the
``400 invalid_grant`` Google sends for an expired/revoked refresh token or a deleted key.
``no_google_env`` builds an environment with no Application Default Credentials anywhere (HOME,
gcloud's config folder and GOOGLE_APPLICATION_CREDENTIALS in a temporary folder) and a metadata
server address that refuses connections at once, so nothing probes 169.254.169.254.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
EXPIRED = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
DELETED_KEY = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}


class _LocalServer:
    """A threaded HTTP server on 127.0.0.1; subclasses answer ``respond(method, path, headers, body)``."""

    def __init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                status, text, kind = server.respond(self.command, self.path.split("?", 1)[0], self.headers, body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Metadata-Flavor", "Google")
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def respond(self, method: str, path: str, headers, body: str) -> tuple[int, str, str]:
        raise NotImplementedError

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class TokenServer(_LocalServer):
    """``with TokenServer() as t: t.url`` — set ``t.answer`` to (status, JSON body)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: tuple[int, dict] = (200, {"access_token": "ya29.local", "expires_in": 3599, "token_type": "Bearer"})
        self.grants: list[str] = []

    def respond(self, method: str, path: str, headers, body: str) -> tuple[int, str, str]:
        self.grants.append(dict(parse_qsl(body)).get("grant_type", ""))
        status, payload = self.answer
        return status, json.dumps(payload), "application/json"

    @property
    def url(self) -> str:
        return f"http://{self.host}/token"


def closed_port() -> int:
    """A local port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def no_google_env(tmp: pathlib.Path) -> dict:
    """os.environ without any Google credentials, gcloud config, stand-in override or proxy; PYTHONPATH = this checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GOOGLE_", "CLOUDSDK_", "GCE_", "VLLM_VERTEX_"))
           and k.lower() not in ("http_proxy", "https_proxy")}
    home = tmp / "home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    refused = f"127.0.0.1:{closed_port()}"
    env.update(HOME=str(home), CLOUDSDK_CONFIG=str(tmp / "gcloud"), GCE_METADATA_HOST=refused,
               GCE_METADATA_IP=refused, PYTHONPATH=str(ROOT), VLLM_VERTEX_DEBUG="")
    return env


def write_authorized_user(env: dict) -> pathlib.Path:
    """gcloud's ADC file (``gcloud auth application-default login``) with a refresh token."""
    folder = pathlib.Path(env["CLOUDSDK_CONFIG"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "application_default_credentials.json"
    path.write_text(json.dumps({"type": "authorized_user", "client_id": "764086051850-local.apps.googleusercontent.com",
                                "client_secret": "d-local", "refresh_token": "1//local-refresh-token",
                                "quota_project_id": "my-project"}))
    return path


def write_service_account_key(tmp: pathlib.Path, token_uri: str) -> pathlib.Path:
    """A service-account key file (real RSA key) whose token URI is ``token_uri``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = tmp / "key.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "my-project", "private_key_id": "0123456789abcdef",
        "private_key": pem.decode(), "client_email": "ci@my-project.iam.gserviceaccount.com",
        "client_id": "1234567890", "token_uri": token_uri,
    }))
    return path


def run_cli(args: list[str], env: dict, token_uri: str = "", timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    """Runs the real ``vllm-vertex`` in a new Python process; returns it and its wall time in seconds.

    ``token_uri`` replaces Google's OAuth token endpoint for gcloud's ADC file (google.auth always
    uses Google's for ``authorized_user`` files), so an expired refresh token can be answered locally.
    """
    code = "import sys\n"
    if token_uri:
        code += f"import google.oauth2.credentials as c; c._GOOGLE_OAUTH2_TOKEN_ENDPOINT = {token_uri!r}\n"
    code += "from vllm_vertex.cli import main\nsys.argv[0] = 'vllm-vertex'\nmain()\n"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    return done, time.perf_counter() - start


class MetadataServer(_LocalServer):
    """The Compute Engine metadata server (also on GKE, Cloud Run, Cloud Build): identity and token.

    Point ``GCE_METADATA_IP`` and ``GCE_METADATA_HOST`` at ``host`` (host:port).
    """

    EMAIL = "builder@my-project.iam.gserviceaccount.com"

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def respond(self, method: str, path: str, headers, body: str) -> tuple[int, str, str]:
        self.paths.append(path)
        if headers.get("Metadata-Flavor") != "Google":
            return 403, "Missing Metadata-Flavor:Google header.", "text/plain"
        account = "/computeMetadata/v1/instance/service-accounts/default/"
        if path in ("/", "/computeMetadata/v1/"):
            return 200, "computeMetadata/\n", "text/plain"
        if path == "/computeMetadata/v1/project/project-id":
            return 200, "my-project", "application/text"
        if path == account:
            info = {"aliases": ["default"], "email": self.EMAIL, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}
            return 200, json.dumps(info), "application/json"
        if path == account + "token":
            return 200, json.dumps({"access_token": "ya29.metadata", "expires_in": 3599, "token_type": "Bearer"}), "application/json"
        if path == "/computeMetadata/v1/universe/universe-domain":
            return 200, "googleapis.com", "application/text"
        return 404, "not found", "text/plain"
