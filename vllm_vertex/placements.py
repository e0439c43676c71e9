"""Where the GPUs are: the placements a run falls back across, and the ladder it walks. Pure.

A run's ``placements`` lists candidates in order of preference. Each candidate is the run's own
configuration with only the keys it names overridden (``KEYS``); an empty mapping ``{}`` is the
configuration as it is. With no placements the run has one candidate, itself.

- ``problems`` validates every placement, each problem named ``placements[i].key`` (called by
  ``config.validate``);
- ``candidates`` builds the configurations to try, in order;
- ``regions`` lists every region a run can create resources in (cleanup looks in each);
- ``vllm_vertex.ladder`` judges every candidate before anything is created (a module of its own, so
  that the steps needing only these carry no prices).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vllm_vertex.config import DeploymentConfig

__all__ = ["KEYS", "candidates", "describe", "overrides", "problems", "regions"]

# What a placement may override, and the type each key takes. (The steps that only clean up import ``regions``,
# so the other functions import what they need themselves.)
KEYS: dict[str, type] = {
    "region": str,
    "machine_type": str,
    "accelerator_type": str,
    "accelerator_count": int,
    "spot": bool,
    "reservation": str,
    "reservation_affinity": str,
    "flex_start_hours": int,
}
# A key a placement names, for a field of the candidate it changes (``reservation`` sets two fields).
_FIELD_KEY = {"reservation_name": "reservation"}


def _typed(index: int, placement: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The placement's keys with whole numbers made ints, and the problems of its shape and types."""
    from vllm_vertex.config import closest
    from vllm_vertex.errors import ConfigError
    from vllm_vertex.numbers import whole_number

    where = f"placements[{index}]"
    if not isinstance(placement, Mapping):
        return {}, [(where, f"must be a mapping of keys to override ({', '.join(KEYS)}), got "
                            f"{type(placement).__name__} {str(placement)[:80]!r}.")]
    out: dict[str, Any] = {}
    found: list[tuple[str, str]] = []
    for key, value in placement.items():
        if key not in KEYS:
            found.append((f"{where}.{key}", f"is not a placement key.{closest(str(key), KEYS)} A placement may "
                                            f"override: {', '.join(KEYS)}."))
            continue
        try:
            value = whole_number(f"{where}.{key}", value)
        except ConfigError as err:
            found += err.problems
            continue
        kind = KEYS[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            found.append((f"{where}.{key}", f"must be {'true or false' if kind is bool else kind.__name__}, got "
                                            f"{type(value).__name__} {str(value)[:80]!r}."))
            continue
        out[key] = value
    return out, found


def overrides(base: DeploymentConfig, placement: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a (typed) placement sets on ``base``.

    ``reservation`` is ``reservation_affinity: specific`` with that ``reservation_name``; another
    ``reservation_affinity`` clears the name. A ``machine_type`` named without ``accelerator_type``
    takes the GPU the machine carries, and its GPU count when the machine takes only one count.
    """
    from vllm_vertex import hardware

    fields = {k: v for k, v in placement.items() if k != "reservation"}
    if "reservation" in placement:
        fields.setdefault("reservation_affinity", "specific")
        fields["reservation_name"] = placement["reservation"]
    elif "reservation_affinity" in placement and placement["reservation_affinity"] != "specific":
        fields["reservation_name"] = ""
    machine = hardware.MACHINE_TYPES.get(str(placement.get("machine_type", "")))
    if machine is not None and "accelerator_type" not in placement:
        fields["accelerator_type"] = machine.accelerator_type
        count = base.accelerator_count
        if "accelerator_count" not in placement and count not in machine.accelerator_counts and \
                len(machine.accelerator_counts) == 1:
            fields["accelerator_count"] = machine.accelerator_counts[0]
    return fields


def _key_for(field_name: str, named: Mapping[str, Any]) -> str:
    """The placement key a problem of ``field_name`` is reported under: the key that set it, else the first named."""
    key = _FIELD_KEY.get(field_name, field_name)
    if key in named:
        return key
    if field_name in ("accelerator_type", "accelerator_count") and "machine_type" in named:
        return "machine_type"
    return next(iter(named), field_name)


def problems(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    """Every problem of ``cfg.placements``, each named ``placements[i].key`` with its fix.

    A candidate is checked as the configuration it makes (region, hardware, reservation, flex-start):
    a problem the base configuration already has is reported once, under its own field.
    """
    from vllm_vertex import config as config_module

    if not isinstance(cfg.placements, list):
        return [("placements", f"must be a list of mappings, got {type(cfg.placements).__name__}.")]
    checks = (config_module._check_location, config_module._check_hardware, config_module._check_capacity)
    base = {field for check in checks for field, _ in check(cfg)}
    found: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(cfg.placements):
        placement, shape = _typed(i, raw)
        found += shape
        if shape:
            continue
        if "reservation" in placement and placement.get("reservation_affinity", "specific") != "specific":
            found.append((f"placements[{i}].reservation_affinity", "must be specific (or left out) with reservation."))
            continue
        candidate = dataclasses.replace(cfg, **overrides(cfg, placement))
        for field_name, message in (p for check in checks for p in check(candidate)):
            if field_name not in base:
                found.append((f"placements[{i}].{_key_for(field_name, placement)}", message))
        named = config_module.RESERVATION_RE.match(candidate.reservation_name)
        zone = candidate.reservation_name.split("/zones/")[1].split("/")[0] if named else ""
        if zone and zone.rsplit("-", 1)[0] != candidate.region:
            found.append((f"placements[{i}].{'reservation' if 'reservation' in placement else 'region'}",
                          f"the reservation is in zone {zone}, outside the placement's region {candidate.region}: "
                          "Vertex uses a reservation only in its own region; set region to the zone's."))
        key = json.dumps(_placed(candidate), sort_keys=True)
        if key in seen:
            found.append((f"placements[{i}]", f"deploys exactly as placements[{seen[key]}] does: remove one."))
        seen.setdefault(key, i)
    return found


def _placed(cfg: DeploymentConfig) -> dict[str, Any]:
    """The fields a placement can change, as they are in ``cfg``."""
    return {k: getattr(cfg, k) for k in (*KEYS, "reservation_name") if k != "reservation"}


def candidates(cfg: DeploymentConfig) -> list[DeploymentConfig]:
    """The configurations to try, in order: ``[cfg]`` without placements, else one per placement.

    Each candidate has no placements of its own. Raises ``ConfigError`` when a placement is invalid.
    """
    from vllm_vertex.errors import ConfigError

    found = problems(cfg)
    if found:
        raise ConfigError(found)
    if not cfg.placements:
        return [dataclasses.replace(cfg, placements=[])]
    return [dataclasses.replace(cfg, placements=[], **overrides(cfg, _typed(i, p)[0]))
            for i, p in enumerate(cfg.placements)]


def regions(location: str, placements: Sequence[Any]) -> list[str]:
    """Every region a run may create resources in: ``location`` first, then each placement's, once each.

    Tolerant of placements that are not mappings (the exit handler runs even when validation failed).
    """
    out = [location]
    for placement in placements or []:
        region = placement.get("region") if isinstance(placement, Mapping) else None
        if isinstance(region, str) and region and region not in out:
            out.append(region)
    return out


def describe(cfg: DeploymentConfig) -> str:
    """``us-east4 g2-standard-12 1× NVIDIA_L4 spot``: where and on what a candidate deploys."""
    parts = [cfg.region, f"{cfg.machine_type} {cfg.accelerator_count}× {cfg.accelerator_type}"]
    if cfg.spot:
        parts.append("spot")
    if cfg.reservation_affinity == "specific":
        parts.append(f"reservation {cfg.reservation_name.rsplit('/', 1)[-1]}")
    elif cfg.reservation_affinity:
        parts.append(f"reservations {cfg.reservation_affinity}")
    if cfg.flex_start_hours:
        parts.append(f"flex-start {cfg.flex_start_hours} h")
    return " ".join(parts)
