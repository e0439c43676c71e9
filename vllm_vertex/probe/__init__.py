"""The load probe's pure core: request records, figures as ``vllm bench serve`` defines them,
the SLO gate, the capacity search, workloads and reports. The client is ``vllm_vertex.cloud.probe``."""

from vllm_vertex.probe.capacity import CapacitySearch, requests_for_level
from vllm_vertex.probe.metrics import percentile, stats_ms, summarize_level
from vllm_vertex.probe.records import RequestRecord, StreamTimer
from vllm_vertex.probe.slo import SLO_KEYS, SloError, gate, goodput_limits, parse_slo
from vllm_vertex.probe.workload import PROFILES, ProbeInputError, ProbeSettings, parse_concurrency, settings_for_profile

__all__ = [
    "PROFILES",
    "SLO_KEYS",
    "CapacitySearch",
    "ProbeInputError",
    "ProbeSettings",
    "RequestRecord",
    "SloError",
    "StreamTimer",
    "gate",
    "goodput_limits",
    "parse_concurrency",
    "parse_slo",
    "percentile",
    "requests_for_level",
    "settings_for_profile",
    "stats_ms",
    "summarize_level",
]
