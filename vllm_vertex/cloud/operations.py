"""Long-running operations read tolerantly: enum values newer than the installed client are skipped.

Steps run in GCPC's image with whatever ``google-cloud-aiplatform`` it holds (1.126.1 in 2.22.0). GAPIC
service calls already parse answers with unknown fields and enum values ignored, but polling an operation
does not: api_core's REST operations client and the services' ``get_operation``/``list_operations`` mixins
parse strictly, so a finished deploy whose metadata says ``deploymentStage: SUCCESSFULLY_DEPLOYED`` (a value
1.126.1 does not know) raises ``ParseError`` after the deploy succeeded. Here operations are read with the
same credentials and parsed with ``ignore_unknown_fields=True``; the rest of api_core's operation future
(polling, result and error unpacking, cancel) is unchanged. Pinning a newer aiplatform in each step would
only move the problem to the next enum value Vertex adds, and cost every step an install.
"""

from __future__ import annotations

from vllm_vertex.cloud import clients
from vllm_vertex.cloud.context import current

__all__ = ["get_operation", "list_operations", "tolerant"]


def _get(url: str, message):
    """GETs ``url`` with the step's credentials and parses the JSON answer into ``message``, tolerantly."""
    from google.api_core import exceptions
    from google.protobuf import json_format

    response = current().session().get(url, timeout=60)
    if response.status_code >= 400:
        raise exceptions.from_http_response(response)
    return json_format.Parse(response.content, message, ignore_unknown_fields=True)


def get_operation(name: str, region: str, version: str = "v1"):
    """The operation ``name`` (``projects/.../operations/ID``) as an ``operations_pb2.Operation``.

    ``version``: the API version that started it (a v1beta1 deploy's metadata and response are v1beta1 types).
    """
    from google.longrunning import operations_pb2

    return _get(f"{current().base(region)}/{version}/{name}", operations_pb2.Operation())


def list_operations(parent: str, region: str) -> list:
    """The operations of ``parent`` (an endpoint's full name), newest last, as ``operations_pb2.Operation``."""
    from google.longrunning import operations_pb2

    url = f"{current().base(region)}/v1/{parent}/operations"
    return list(_get(url, operations_pb2.ListOperationsResponse()).operations)


def tolerant(op, region: str, version: str = "v1"):
    """``op`` (an api_core operation future from a GAPIC REST client of ``version``), refreshed by ``get_operation``."""
    from vllm_vertex.cloud import backoff

    name = op.operation.name

    def refresh(retry=None):
        read = lambda: get_operation(name, region, version)  # noqa: E731
        return (retry or clients.retry())(read)()

    if not hasattr(op, "_refresh"):  # api_core keeps the refresh callable here since its first release
        raise RuntimeError("google-api-core's Operation has no _refresh: update vllm_vertex/cloud/operations.py")
    op._refresh = refresh
    op._polling = backoff.polling()  # waits by vllm_vertex.clock; ``result(timeout=...)`` keeps the class
    return op
