"""Request routing and validation from Google's official discovery documents.

Every request is matched against the ``flatPath`` templates of ``aiplatform.v1``,
``aiplatform.v1beta1``, ``secretmanager.v1``, ``logging.v2`` and, for ``doctor``, ``serviceusage.v1``,
``cloudresourcemanager.v3``, ``iam.v1``, ``storage.v1`` and, for live prices, ``cloudbilling.v1`` (shipped with google-api-python-client), which
gives the discovery method id (e.g. ``aiplatform.projects.locations.models.upload``), the path
parameters and the request/response schemas. Bodies are checked the way Google's JSON
transcoder does: unknown field → 400, wrong JSON type → 400, enum value not in the enum → 400.
Cloud Quotas has no discovery document: its one route is declared here by hand.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from dataclasses import dataclass

__all__ = ["Match", "ValidationError", "match", "method_by_id", "schema_for_type_url", "validate"]

DOCS = ("aiplatform.v1", "aiplatform.v1beta1", "secretmanager.v1", "logging.v2",
        # what `vllm-vertex doctor` reads and fixes
        "serviceusage.v1", "cloudresourcemanager.v3", "iam.v1", "storage.v1",
        # what `vllm-vertex plan --live-prices` reads
        "cloudbilling.v1")
QUOTA_ID = "cloudquotas.projects.locations.services.quotaInfos.get"
_EXTRA = [  # (doc, httpMethod, flatPath, id) for APIs without a discovery document here
    ("cloudquotas.v1", "GET", "v1/projects/{projectsId}/locations/{locationsId}/services/{servicesId}/quotaInfos/{quotaInfosId}", QUOTA_ID),
]
STANDARD_QUERY = {"$alt", "alt", "$.xgafv", "fields", "key", "prettyPrint", "quotaUser", "access_token", "callback", "oauth_token", "uploadType", "upload_protocol",
                  "upload_id"}  # a resumable upload session's chunks (Cloud Storage)


class ValidationError(Exception):
    """A request body or query the real API would refuse with 400 INVALID_ARGUMENT."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class Match:
    doc: str  # e.g. "aiplatform.v1"
    method_id: str
    http_method: str
    params: dict  # flatPath parameters, e.g. {"projectsId": "p", "endpointsId": "5"}
    method: dict  # the discovery method (empty for hand-declared routes)


@functools.cache
def load(doc: str) -> dict:
    import googleapiclient

    base = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")
    with open(os.path.join(base, f"{doc}.json"), encoding="utf-8") as f:
        return json.load(f)


def _walk(resources: dict):
    for res in resources.values():
        yield from res.get("methods", {}).values()
        yield from _walk(res.get("resources", {}))


def _compile(flat: str) -> tuple[re.Pattern, int]:
    out, literal = [], 0
    for part in re.split(r"(\{[^}]+\})", flat):
        if part.startswith("{"):
            out.append(f"(?P<{part[1:-1].lstrip('+')}>[^/:]+)")
        else:
            out.append(re.escape(part))
            literal += len(part)
    return re.compile("^" + "".join(out) + "$"), literal


@functools.lru_cache(maxsize=1)
def _routes() -> dict:
    """(HTTP method, first path segment, segment count) → [(regex, literal length, doc, method)]."""
    table: dict[tuple, list] = {}

    def add(doc: str, http: str, flat: str, method: dict) -> None:
        regex, literal = _compile(flat)
        key = (http, flat.split("/", 1)[0], flat.count("/"))
        table.setdefault(key, []).append((regex, literal, doc, method))

    for doc in DOCS:
        service_path = load(doc).get("servicePath", "")  # "storage/v1/" for Cloud Storage, "" for the others
        for m in _walk(load(doc)["resources"]):
            add(doc, m["httpMethod"], service_path + m.get("flatPath", m["path"]), m)
    for doc, http, flat, mid in _EXTRA:
        add(doc, http, flat, {"id": mid, "httpMethod": http, "flatPath": flat, "parameters": {}})
    for entries in table.values():
        entries.sort(key=lambda e: -e[1])  # most literal text first: `endpoints/openapi/...` beats `{endpointsId}`
    return table


def match(http_method: str, path: str) -> Match | None:
    """Matches a decoded path without leading slash or query (``v1/projects/p/...``)."""
    if path.startswith("ui/"):  # the GAPIC REST clients poll operations through /ui/{name=...}
        path = "v1/" + path[3:]
    if http_method == "GET" and path.startswith("v1/operations/acat."):
        # Service Usage's operations share their path with Vertex's global ones (told apart by host at Google,
        # one host here); Service Usage names them "operations/acat.*"
        method = method_by_id("serviceusage.operations.get", "serviceusage.v1")
        return Match("serviceusage.v1", method["id"], http_method, {"operationsId": path.split("/", 2)[2]}, method)
    for regex, _, doc, method in _routes().get((http_method, path.split("/", 1)[0], path.count("/")), []):
        m = regex.match(path)
        if m:
            return Match(doc, method["id"], http_method, m.groupdict(), method)
    return None


def method_by_id(method_id: str, doc: str = "aiplatform.v1") -> dict:
    for m in _walk(load(doc)["resources"]):
        if m["id"] == method_id:
            return m
    raise KeyError(method_id)


def check_query(m: Match, query: dict) -> None:
    known = set(m.method.get("parameters", {})) | STANDARD_QUERY
    for key in query:
        if key not in known:
            raise ValidationError(f"Invalid JSON payload received. Unknown name \"{key}\": Cannot bind query parameter. Field '{key}' could not be found in request message.", key)


def schema_for_type_url(type_url: str) -> tuple[str, str] | None:
    """``type.googleapis.com/google.cloud.aiplatform.v1.X`` → ("aiplatform.v1", "GoogleCloudAiplatformV1X")."""
    full = type_url.rsplit("/", 1)[-1]
    for prefix, doc, schema_prefix in (
        ("google.cloud.aiplatform.v1beta1.", "aiplatform.v1beta1", "GoogleCloudAiplatformV1beta1"),
        ("google.cloud.aiplatform.v1.", "aiplatform.v1", "GoogleCloudAiplatformV1"),
        ("google.protobuf.", "aiplatform.v1", "GoogleProtobuf"),
        ("google.cloud.secretmanager.v1.", "secretmanager.v1", ""),
    ):
        if full.startswith(prefix):
            name = schema_prefix + full[len(prefix):].replace(".", "")
            return (doc, name) if name in load(doc)["schemas"] else None
    return None


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def _proto_enum(doc: str, schema_name: str, prop: str):
    """The protobuf enum descriptor of a field, to check enums sent as numbers (enum-encoding=int)."""
    if not doc.startswith("aiplatform"):
        return None
    version = doc.split(".", 1)[1]
    prefix = {"v1": "GoogleCloudAiplatformV1", "v1beta1": "GoogleCloudAiplatformV1beta1"}[version]
    if not schema_name.startswith(prefix):
        return None
    try:
        if version == "v1":
            import google.cloud.aiplatform_v1.types  # noqa: F401  (registers the descriptors)
        from google.protobuf import descriptor_pool

        pool = descriptor_pool.Default()
    except ImportError:
        return None
    rest = schema_name[len(prefix):]
    words = re.findall(r"[A-Z][^A-Z]*", rest)
    for cut in range(len(words), 0, -1):  # nested messages: Model.DeployedModelRef ...
        candidates = ["".join(words[:cut])] + (["".join(words[:cut]) + "." + "".join(words[cut:])] if cut < len(words) else [])
        for cand in candidates:
            try:
                msg = pool.FindMessageTypeByName(f"google.cloud.aiplatform.{version}.{cand}")
            except KeyError:
                continue
            field = msg.fields_by_name.get(_snake(prop))
            return field.enum_type if field is not None else None
    return None


def _type_error(where: str, expected: str, value) -> ValidationError:
    return ValidationError(f"Invalid value at '{where}' ({expected}), {json.dumps(value)[:80]}", where)


def validate(doc: str, schema: dict | str, value, where: str = "", response: bool = False):
    """Checks ``value`` against a discovery schema (name or inline); returns it with snake_case keys
    renamed to the camelCase JSON names. Raises ``ValidationError`` naming the offending field."""
    schemas = load(doc)["schemas"]
    name = schema if isinstance(schema, str) else schema.get("$ref")
    if name:
        schema = schemas[name]
    if value is None:
        return None  # JSON null = default value in proto3 JSON
    kind = schema.get("type")
    if kind == "any":
        return value
    if kind == "object" and "properties" in schema:
        if not isinstance(value, dict):
            raise _type_error(where or "request", "TYPE_MESSAGE", value)
        out = {}
        for key, item in value.items():
            prop = key if key in schema["properties"] else _camel(key)
            if prop not in schema["properties"]:
                at = f" at '{where}'" if where else ""
                raise ValidationError(f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.', f"{where}.{key}".lstrip("."))
            sub = f"{where}.{_snake(prop)}".lstrip(".")
            out[prop] = _validate_prop(doc, name or "", prop, schema["properties"][prop], item, sub, response)
        return out
    if kind == "object":
        if not isinstance(value, dict):
            raise _type_error(where, "TYPE_MESSAGE", value)
        add = schema.get("additionalProperties")
        if add is None:
            return value
        if add.get("type") == "any" and "@type" in value:  # google.protobuf.Any
            found = schema_for_type_url(str(value["@type"]))
            if found and response:
                rest = {k: v for k, v in value.items() if k != "@type"}
                return {"@type": value["@type"], **validate(found[0], found[1], rest, where, response)}
            return value
        return {k: validate(doc, add, v, f"{where}[{k}]", response) for k, v in value.items()}
    if kind == "array":
        if not isinstance(value, list):
            raise _type_error(where, "TYPE_LIST", value)
        return [validate(doc, schema["items"], v, f"{where}[{i}]", response) for i, v in enumerate(value)]
    return _scalar(schema, value, where)


# An enum value that a response may carry in any enum field: it stands for a value the API added after this
# discovery document and the installed clients were published (what an older client in the runtime image meets).
NEWER_ENUM_VALUE = "A_VALUE_NEWER_THAN_THE_CLIENT"


def _validate_prop(doc, schema_name, prop, pschema, item, where, response):
    if "enum" in pschema and pschema.get("type") == "string":
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise _type_error(where, "TYPE_ENUM", item)
        if isinstance(item, int):
            enum = _proto_enum(doc, schema_name, prop)
            if (enum is not None and item not in enum.values_by_number) or item < 0:
                raise _type_error(where, "TYPE_ENUM", item)
            if enum is not None:  # store names, as the real API answers them without enum-encoding=int
                return enum.values_by_number[item].name
        elif item not in pschema["enum"] and not (response and item == NEWER_ENUM_VALUE):
            raise _type_error(where, "TYPE_ENUM", item)
        return item
    if pschema.get("type") == "array" and "enum" in pschema.get("items", {}):
        if not isinstance(item, list):
            raise _type_error(where, "TYPE_LIST", item)
        return [_validate_prop(doc, schema_name, prop, pschema["items"], v, f"{where}[{i}]", response) for i, v in enumerate(item)]
    return validate(doc, pschema, item, where, response)


_DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


def _scalar(schema: dict, value, where: str):
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(where, "TYPE_BOOL", value)
    elif kind == "integer":
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value))):
            raise _type_error(where, f"TYPE_{(fmt or 'int32').upper()}", value)
    elif kind == "number":
        if isinstance(value, bool) or not (isinstance(value, int | float) or value in ("NaN", "Infinity", "-Infinity")):
            raise _type_error(where, "TYPE_DOUBLE", value)
    elif kind == "string":
        if fmt in ("int64", "uint64"):
            if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value))):
                raise _type_error(where, "TYPE_INT64", value)
            return value
        if not isinstance(value, str):
            raise _type_error(where, "TYPE_STRING", value)
        if fmt == "byte":
            try:
                base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if ("-" in value or "_" in value) else None, validate=True)
            except ValueError as e:
                raise _type_error(where, "TYPE_BYTES", value) from e
        elif fmt == "google-duration" and not _DURATION.match(value):
            raise ValidationError(f"Invalid value at '{where}' (type.googleapis.com/google.protobuf.Duration), Field '{where}', Illegal duration format; duration must end with 's'", where)
        elif fmt == "google-datetime" and not _DATETIME.match(value):
            raise ValidationError(f"Invalid value at '{where}' (type.googleapis.com/google.protobuf.Timestamp), {value!r}", where)
    return value
