"""A local stand-in of the Google APIs the product uses (Vertex AI, Cloud Quotas, Secret Manager).

The official clients run unchanged against it: point them at ``standin.url`` with REST transport
and ``AnonymousCredentials``. See ``server.VertexStandin`` for the API.
"""

from .discovery import ValidationError, match, validate
from .fake_backend import FakeBackend, reply_text
from .faults import ALIASES, Faults
from .server import Request, ServingBackend, VertexStandin
from .state import GoogleError, Raw, Stream, project_number

__all__ = [
    "ALIASES",
    "FakeBackend",
    "Faults",
    "GoogleError",
    "Raw",
    "Request",
    "ServingBackend",
    "Stream",
    "ValidationError",
    "VertexStandin",
    "match",
    "project_number",
    "reply_text",
    "validate",
]
