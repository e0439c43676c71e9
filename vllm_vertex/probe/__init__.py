"""The load probe's pure core: request records, figures as ``vllm bench serve`` defines them,
the SLO gate, the capacity search, workloads and reports. The client is ``vllm_vertex.cloud.probe``.

Names are imported on first use: pipeline steps other than the probe carry only ``slo`` and
``workload`` (for validation), see ``components/_runtime.py``.
"""

import importlib
from typing import Any

_WHERE = {
    "CapacitySearch": "capacity",
    "requests_for_level": "capacity",
    "client_note": "metrics",
    "percentile": "metrics",
    "stats_ms": "metrics",
    "summarize_level": "metrics",
    "RequestRecord": "records",
    "StreamTimer": "records",
    "SLO_KEYS": "slo",
    "gate": "slo",
    "goodput_limits": "slo",
    "parse_slo": "slo",
    "PROFILES": "workload",
    "ProbeSettings": "workload",
    "parse_concurrency": "workload",
    "settings_for_profile": "workload",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"vllm_vertex.probe.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'vllm_vertex.probe' has no attribute {name!r}")
