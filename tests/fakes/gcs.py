"""A local Cloud Storage JSON API (list objects, object metadata, download media) for ``google-cloud-storage``."""

from __future__ import annotations

import json
import mimetypes
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FakeGcs"]


class FakeGcs:
    """Objects in memory: ``objects[(bucket, name)] = bytes``. Use as a context manager."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The ``api_endpoint`` to give the storage client."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def put(self, uri: str, content: object) -> None:
        """Stores ``content`` (bytes, or JSON for dicts) at ``gs://bucket/name``."""
        bucket, _, name = uri.removeprefix("gs://").partition("/")
        self.objects[(bucket, name)] = content if isinstance(content, bytes) else json.dumps(content).encode()

    def __enter__(self) -> FakeGcs:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(gcs: FakeGcs):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            parts = [urllib.parse.unquote(p) for p in url.path.split("/")]
            # /storage/v1/b/{bucket}/o  or  /download/storage/v1/b/{bucket}/o/{object}
            if parts[1:4] == ["storage", "v1", "b"] and parts[5:] == ["o"]:
                prefix = query.get("prefix", [""])[0]
                items = [
                    {"kind": "storage#object", "bucket": b, "name": n, "size": str(len(v))}
                    for (b, n), v in sorted(gcs.objects.items())
                    if b == parts[4] and n.startswith(prefix)
                ]
                self._send(200, json.dumps({"kind": "storage#objects", "items": items}).encode())
            elif parts[1:4] == ["storage", "v1", "b"] and len(parts) >= 7 and parts[5] == "o":  # object metadata
                name = "/".join(parts[6:])
                data = gcs.objects.get((parts[4], name))
                if data is None:
                    self._send(404, b'{"error": {"code": 404, "message": "No such object"}}')
                    return
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                meta = {"kind": "storage#object", "bucket": parts[4], "name": name, "size": str(len(data)),
                        "contentType": kind}
                self._send(200, json.dumps(meta).encode())
            elif parts[1:5] == ["download", "storage", "v1", "b"] and len(parts) >= 8:
                key = (parts[5], "/".join(parts[7:]))
                if key in gcs.objects:
                    self._send(200, gcs.objects[key], "application/octet-stream")
                else:
                    self._send(404, b'{"error": {"code": 404, "message": "No such object"}}')
            else:
                self._send(404, b'{"error": {"code": 404, "message": "no such route"}}')

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
