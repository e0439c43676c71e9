"""Cloud Storage objects (JSON API v1) as ``google-cloud-storage`` speaks it: list, get, media download, delete,
and uploads (multipart, and resumable sessions sent in chunks).

Object names hold ``/``, which the client sends percent-encoded in one path segment: these routes are matched
here on the raw path (``match``), before the server decodes it, and answer as the storage v1 discovery
document says (method ids, query parameters, the ``Object``/``Objects`` schemas the server checks answers
against). Buckets come from ``CloudSetup`` (``cloud.add_bucket``); IAM is enforced with the caller's
permissions on the bucket (``storage.objects.create`` / ``get`` / ``list`` / ``delete``).

``Objects.max_kept``: objects larger than this keep only their size and checksums (a multi-GB upload is
never held in memory); downloading one answers 500.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import google_crc32c

from . import discovery
from .cloudsetup import _bucket_resources, _find_bucket, _require
from .state import GoogleError, Raw, now

__all__ = ["ROUTES", "Objects", "match"]

_DOC = "storage.v1"
_PATHS = (  # (HTTP methods, raw path regex, method id)
    (("GET", "POST"), r"/storage/v1/b/(?P<bucket>[^/]+)/o", {"GET": "storage.objects.list", "POST": "storage.objects.insert"}),
    (("GET", "DELETE", "PATCH"), r"/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<object>[^/]+)",
     {"GET": "storage.objects.get", "DELETE": "storage.objects.delete", "PATCH": "storage.objects.patch"}),
    (("POST", "PUT", "DELETE"), r"/(?:resumable/)?upload/storage/v1/b/(?P<bucket>[^/]+)/o", {"*": "storage.objects.insert"}),
    (("GET",), r"/download/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<object>[^/]+)", {"GET": "storage.objects.get"}),
)


@dataclass
class _Object:
    resource: dict
    data: bytes | None  # None: over ``max_kept``, only the checksums were kept


@dataclass
class _Session:
    bucket: str
    resource: dict  # the Object metadata sent when the session was opened
    preconditions: dict
    received: int = 0
    crc: google_crc32c.Checksum = field(default_factory=google_crc32c.Checksum)
    md5: object = field(default_factory=hashlib.md5)
    parts: list = field(default_factory=list)  # the bytes, unless over max_kept
    discarded: bool = False


@dataclass
class Objects:
    """``standin.storage``: objects by (bucket, name), the resumable sessions, what uploads received."""

    objects: dict = field(default_factory=dict)  # (bucket, name) -> _Object
    sessions: dict = field(default_factory=dict)  # upload id -> _Session
    max_kept: int | None = None
    uploaded_bytes: int = 0  # bytes received by uploads, all objects
    lock: threading.RLock = field(default_factory=threading.RLock)
    _generations: itertools.count = field(default_factory=lambda: itertools.count(1_700_000_000_000_001))

    def put(self, uri: str, data: bytes, metadata: dict | None = None) -> dict:
        """Stores an object directly (test set-up); returns its resource."""
        bucket, _, name = uri.removeprefix("gs://").partition("/")
        crc, md5 = google_crc32c.Checksum(data), hashlib.md5(data)  # noqa: S324 - what GCS reports
        with self.lock:
            return self._finish(bucket, {"name": name, "metadata": metadata or {}}, data, len(data), crc, md5)

    def read(self, uri: str) -> bytes | None:
        """An object's bytes (None when absent or not kept)."""
        bucket, _, name = uri.removeprefix("gs://").partition("/")
        with self.lock:
            found = self.objects.get((bucket, name))
        return found.data if found else None

    def replace_bytes(self, uri: str, data: bytes) -> None:
        """Overwrites an object's bytes and checksums in place, keeping its metadata (a corruption)."""
        bucket, _, name = uri.removeprefix("gs://").partition("/")
        with self.lock:
            found = self.objects[(bucket, name)]
            found.data = data
            found.resource.update(size=str(len(data)), crc32c=_b64(google_crc32c.Checksum(data).digest()),
                                  md5Hash=_b64(hashlib.md5(data).digest()))  # noqa: S324

    def names(self, bucket: str, prefix: str = "") -> list[str]:
        with self.lock:
            return sorted(n for b, n in self.objects if b == bucket and n.startswith(prefix))

    def _finish(self, bucket: str, meta: dict, data: bytes | None, size: int, crc, md5) -> dict:
        name = meta["name"]
        generation = str(next(self._generations))
        resource = {
            "kind": "storage#object", "id": f"{bucket}/{name}/{generation}", "name": name, "bucket": bucket,
            "generation": generation, "metageneration": "1", "contentType": meta.get("contentType")
            or "application/octet-stream", "size": str(size), "crc32c": _b64(crc.digest()),
            "md5Hash": _b64(md5.digest()), "metadata": dict(meta.get("metadata") or {}), "storageClass": "STANDARD",
            "timeCreated": now(), "updated": now(), "timeFinalized": now(), "etag": f"C{generation[-6:]}EAE=",
        }
        if not resource["metadata"]:
            del resource["metadata"]
        keep = data if self.max_kept is None or size <= self.max_kept else None
        self.objects[(bucket, name)] = _Object(resource, keep)
        return dict(resource)


def _view(resource: dict, req) -> dict:
    """An object resource as answered: its links on the host the client called (as Google's name its own)."""
    host = req.headers.get("Host") or req.headers.get("host")
    path = f"b/{resource['bucket']}/o/{quote(resource['name'], safe='')}"
    return {**resource, "selfLink": f"http://{host}/storage/v1/{path}",
            "mediaLink": f"http://{host}/download/storage/v1/{path}?generation={resource['generation']}&alt=media"}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def match(http_method: str, raw_path: str) -> discovery.Match | None:
    """The storage object route of a raw (still percent-encoded) path, or None for every other route."""
    for methods, pattern, ids in _PATHS:
        m = re.fullmatch(pattern, raw_path)
        if m and http_method in methods:
            method_id = ids.get(http_method) or ids["*"]
            method = dict(discovery.method_by_id(method_id, _DOC))
            method.pop("request", None)  # bodies are media or multipart here: checked by the handlers
            params = {k: unquote(v) for k, v in m.groupdict().items()}
            params["route"] = raw_path.split("/", 2)[1]  # storage, upload, resumable or download
            return discovery.Match(_DOC, method_id, http_method, params, method)
    return None


def _check(st, req, permission: str) -> dict:
    found = _find_bucket(st, req.param("bucket"))
    _require(st.cloud, permission, *_bucket_resources(st, found))
    return found


def _preconditions(store: Objects, bucket: str, name: str, query: dict) -> None:
    current = store.objects.get((bucket, name))
    generation = current.resource["generation"] if current else "0"
    if "ifGenerationMatch" in query and query["ifGenerationMatch"] != generation:
        raise GoogleError(412, "At least one of the pre-conditions you specified did not hold.", "FAILED_PRECONDITION")
    if "ifGenerationNotMatch" in query and query["ifGenerationNotMatch"] == generation:
        raise GoogleError(304, "Not modified.")


def list_objects(st, req) -> dict:
    bucket = req.param("bucket")
    _check(st, req, "storage.objects.list")
    prefix, delimiter, glob = req.query.get("prefix", ""), req.query.get("delimiter", ""), req.query.get("matchGlob")
    with st.storage.lock:
        rows = sorted((n, o.resource) for (b, n), o in st.storage.objects.items() if b == bucket and n.startswith(prefix))
    items, prefixes = [], set()
    for name, resource in rows:
        rest = name[len(prefix):]
        if delimiter and delimiter in rest:
            prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
        elif glob is None or fnmatch.fnmatchcase(name, glob):
            items.append(_view(resource, req))
    start = int(req.query.get("pageToken") or 0)
    size = int(req.query.get("maxResults") or 1000)
    out: dict = {"kind": "storage#objects"}
    if items[start:start + size]:
        out["items"] = items[start:start + size]
    if start + size < len(items):
        out["nextPageToken"] = str(start + size)
    if prefixes:
        out["prefixes"] = sorted(prefixes)
    return out


def _found(st, req) -> _Object:
    with st.storage.lock:
        found = st.storage.objects.get((req.param("bucket"), req.param("object")))
    if found is None:
        raise GoogleError(404, f"No such object: {req.param('bucket')}/{req.param('object')}")
    return found


def get_object(st, req):
    _check(st, req, "storage.objects.get")
    found = _found(st, req)
    if req.param("route") != "download" and req.query.get("alt") != "media":
        return _view(found.resource, req)
    if found.data is None:
        raise GoogleError(500, "the stand-in did not keep this object's bytes (Objects.max_kept)")
    data, status, headers = found.data, 200, {}
    if m := re.fullmatch(r"bytes=(\d+)-(\d*)", req.headers.get("Range") or req.headers.get("range") or ""):
        first, last = int(m[1]), int(m[2]) if m[2] else len(data) - 1
        headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
        data, status = data[first:last + 1], 206
    headers["X-Goog-Hash"] = f"crc32c={found.resource['crc32c']},md5={found.resource['md5Hash']}"
    headers["X-Goog-Generation"] = found.resource["generation"]
    headers["X-Goog-Stored-Content-Length"] = found.resource["size"]
    return Raw(data, content_type=found.resource["contentType"], status=status, headers=headers)


def delete_object(st, req) -> Raw:
    _check(st, req, "storage.objects.delete")
    _found(st, req)
    with st.storage.lock:
        st.storage.objects.pop((req.param("bucket"), req.param("object")), None)
    return Raw(b"", status=204)


def patch_object(st, req) -> dict:
    _check(st, req, "storage.objects.update")
    found = _found(st, req)
    body = discovery.validate(_DOC, "Object", json.loads(req.body or b"{}"))
    with st.storage.lock:
        if "metadata" in body:
            found.resource["metadata"] = {k: v for k, v in {**found.resource.get("metadata", {}),
                                                            **(body["metadata"] or {})}.items() if v is not None}
        found.resource["metageneration"] = str(int(found.resource["metageneration"]) + 1)
        return _view(found.resource, req)


def insert_object(st, req):
    """Uploads: ``uploadType=multipart`` in one request; ``resumable``: open a session, then PUT its chunks."""
    bucket = req.param("bucket")
    _check(st, req, "storage.objects.create")
    store: Objects = st.storage
    upload_id = req.query.get("upload_id")
    if upload_id:
        return _session_request(st, req, upload_id)
    kind = req.query.get("uploadType", "")
    if kind == "resumable":
        meta = discovery.validate(_DOC, "Object", json.loads(req.body or b"{}"))
        meta.setdefault("name", req.query.get("name", ""))
        meta.setdefault("contentType", req.headers.get("X-Upload-Content-Type") or req.headers.get("x-upload-content-type"))
        if not meta["name"]:
            raise GoogleError(400, "Required: object name.")
        with store.lock:
            _preconditions(store, bucket, meta["name"], req.query)
            upload_id = f"upload-{next(store._generations)}"
            store.sessions[upload_id] = _Session(bucket, meta, {k: v for k, v in req.query.items() if k.startswith("if")})
        host = req.headers.get("Host") or req.headers.get("host")
        location = f"http://{host}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id={upload_id}"
        return Raw(b"", status=200, headers={"Location": location})
    if kind == "multipart":
        meta, data = _multipart(req)
        meta = discovery.validate(_DOC, "Object", meta)
        meta.setdefault("name", req.query.get("name", ""))
        with store.lock:
            _preconditions(store, bucket, meta["name"], req.query)
            store.uploaded_bytes += len(data)
            return _view(store._finish(bucket, meta, data, len(data), google_crc32c.Checksum(data),
                                       hashlib.md5(data)), req)  # noqa: S324
    raise GoogleError(400, f"uploadType {kind!r} is not supported by the stand-in (multipart, resumable).")


def _multipart(req) -> tuple[dict, bytes]:
    ctype = req.headers.get("Content-Type") or req.headers.get("content-type") or ""
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not m:
        raise GoogleError(400, "multipart upload without a boundary")
    parts = req.body.split(b"--" + m[1].encode())[1:-1]
    docs = [p.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n") for p in parts]
    if len(docs) != 2:
        raise GoogleError(400, "a multipart upload holds the metadata and the media")
    return json.loads(docs[0]), docs[1]


def _session_request(st, req, upload_id: str) -> Raw | dict:
    store: Objects = st.storage
    with store.lock:
        session = store.sessions.get(upload_id)
    if session is None:
        raise GoogleError(404, "No such upload session (finished or cancelled).")
    if req.http_method == "DELETE":
        with store.lock:
            store.sessions.pop(upload_id, None)
        return Raw(b"", status=499)
    span = req.headers.get("Content-Range") or req.headers.get("content-range") or ""
    m = re.fullmatch(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)", span)
    if not m:
        raise GoogleError(400, f"bad Content-Range {span!r}")
    total = int(m[3]) if m[3] != "*" else None
    with store.lock:
        if m[1] is not None:
            first = int(m[1])
            if first != session.received:
                return _incomplete(session)
            chunk = req.body
            session.crc.update(chunk)
            session.md5.update(chunk)
            session.received += len(chunk)
            store.uploaded_bytes += len(chunk)
            session.parts.append(chunk)
            if store.max_kept is not None and session.received > store.max_kept:
                session.parts, session.discarded = [], True
        if total is None or session.received < total:
            return _incomplete(session)
        store.sessions.pop(upload_id, None)
        sent = req.headers.get("x-goog-hash") or req.headers.get("X-Goog-Hash") or ""
        if (h := re.search(r"crc32c=([^,]+)", sent)) and h[1] != _b64(session.crc.digest()):
            raise GoogleError(400, "Provided CRC32C does not match the data.")
        _preconditions(store, session.bucket, session.resource["name"], session.preconditions)
        data = None if session.discarded else b"".join(session.parts)
        return _view(store._finish(session.bucket, session.resource, data, session.received, session.crc,
                                   session.md5), req)


def _incomplete(session: _Session) -> Raw:
    headers = {"Range": f"bytes=0-{session.received - 1}"} if session.received else {}
    return Raw(b"", status=308, headers=headers)


ROUTES = {
    "storage.objects.list": list_objects,
    "storage.objects.get": get_object,
    "storage.objects.delete": delete_object,
    "storage.objects.patch": patch_object,
    "storage.objects.insert": insert_object,
}
