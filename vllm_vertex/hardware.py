"""Vertex AI serving hardware: accelerators, machine types, quota IDs and regions.

Pure data and lookups; no I/O. Figures are the ones Vertex AI documents for online
prediction and the Cloud Quotas IDs for ``aiplatform.googleapis.com``.
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm_vertex import sdk_regions

__all__ = [
    "ACCELERATORS",
    "AcceleratorInfo",
    "CPU_QUOTA_ID",
    "MACHINE_TYPES",
    "MachineInfo",
    "VERTEX_REGIONS",
    "accelerator_info",
    "machine_info",
]


@dataclass(frozen=True)
class AcceleratorInfo:
    """One GPU type as Vertex AI names it.

    Attributes:
        name: Vertex enum, e.g. ``NVIDIA_L4``.
        memory_gib: Memory that CUDA reports as total on one device, in GiB.
        quota_id: Cloud Quotas ID for on-demand serving GPUs.
        spot_quota_id: Cloud Quotas ID for spot (preemptible) serving GPUs.
    """

    name: str
    memory_gib: float
    quota_id: str
    spot_quota_id: str


def _acc(name: str, memory_gib: float, quota_key: str) -> AcceleratorInfo:
    return AcceleratorInfo(
        name=name,
        memory_gib=memory_gib,
        quota_id=f"CustomModelServing{quota_key}GPUsPerProjectPerRegion",
        spot_quota_id=f"CustomModelServingPreemptible{quota_key}GPUsPerProjectPerRegion",
    )


ACCELERATORS: dict[str, AcceleratorInfo] = {
    a.name: a
    for a in (
        _acc("NVIDIA_TESLA_T4", 14.58, "T4"),
        _acc("NVIDIA_L4", 22.03, "L4"),
        _acc("NVIDIA_TESLA_A100", 39.39, "A100"),
        _acc("NVIDIA_A100_80GB", 79.15, "A10080GB"),
        _acc("NVIDIA_H100_80GB", 79.11, "H100"),
        _acc("NVIDIA_H100_MEGA_80GB", 79.11, "H100MEGA"),
        _acc("NVIDIA_H200_141GB", 139.81, "H200"),
    )
}

CPU_QUOTA_ID = "CustomModelServingCPUsPerProjectPerRegion"


@dataclass(frozen=True)
class MachineInfo:
    """A machine type that Vertex AI online prediction offers with GPUs.

    Attributes:
        name: Machine type, e.g. ``g2-standard-12``.
        vcpus: Virtual CPUs of one replica (charged against the CPU quota).
        accelerator_type: The GPU type the machine carries.
        accelerator_counts: GPU counts the machine can carry.
    """

    name: str
    vcpus: int
    accelerator_type: str
    accelerator_counts: tuple[int, ...]


def _machines() -> dict[str, MachineInfo]:
    rows: list[MachineInfo] = []
    # G2: a fixed number of L4s per shape.
    for name, vcpus, gpus in [
        ("g2-standard-4", 4, 1),
        ("g2-standard-8", 8, 1),
        ("g2-standard-12", 12, 1),
        ("g2-standard-16", 16, 1),
        ("g2-standard-32", 32, 1),
        ("g2-standard-24", 24, 2),
        ("g2-standard-48", 48, 4),
        ("g2-standard-96", 96, 8),
    ]:
        rows.append(MachineInfo(name, vcpus, "NVIDIA_L4", (gpus,)))
    # A2 / A3: GPU count is in the name.
    for family, acc, vcpus_per_gpu, counts in [
        ("a2-highgpu", "NVIDIA_TESLA_A100", 12, (1, 2, 4, 8)),
        ("a2-ultragpu", "NVIDIA_A100_80GB", 12, (1, 2, 4, 8)),
        ("a3-highgpu", "NVIDIA_H100_80GB", 26, (1, 2, 4, 8)),
    ]:
        for n in counts:
            rows.append(MachineInfo(f"{family}-{n}g", vcpus_per_gpu * n, acc, (n,)))
    rows.append(MachineInfo("a3-megagpu-8g", 208, "NVIDIA_H100_MEGA_80GB", (8,)))
    rows.append(MachineInfo("a3-ultragpu-8g", 224, "NVIDIA_H200_141GB", (8,)))
    # N1 with T4: 1, 2 or 4 GPUs attach to any shape.
    for vcpus in (4, 8, 16, 32, 64, 96):
        rows.append(MachineInfo(f"n1-standard-{vcpus}", vcpus, "NVIDIA_TESLA_T4", (1, 2, 4)))
    return {m.name: m for m in rows}


MACHINE_TYPES: dict[str, MachineInfo] = _machines()

# Regions a model can be deployed in: the pinned Vertex AI SDK's list (generated table, see
# ``sdk_regions``) without "global", an API location that hosts no endpoint.
VERTEX_REGIONS: frozenset[str] = sdk_regions.SUPPORTED_REGIONS - {"global"}


def accelerator_info(name: str) -> AcceleratorInfo:
    """Returns the accelerator named ``name`` or raises ``KeyError`` listing the known ones."""
    try:
        return ACCELERATORS[name]
    except KeyError:
        raise KeyError(f"unknown accelerator {name!r}; known: {', '.join(sorted(ACCELERATORS))}") from None


def machine_info(name: str) -> MachineInfo:
    """Returns the machine type ``name`` or raises ``KeyError`` listing the known ones."""
    try:
        return MACHINE_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown machine type {name!r}; known: {', '.join(sorted(MACHINE_TYPES))}") from None
