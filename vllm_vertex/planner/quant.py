"""Reading a checkpoint's weight quantisation (``quantization_config``) into bytes per parameter.

Supported, with the bytes each quantised linear weight takes in GPU memory (scales included):

* ``fp8`` / ``fbgemm_fp8``: 1 byte; ``modules_to_not_convert`` / ``ignored_layers`` stay unquantised.
* ``gptq`` / ``awq`` (and their Marlin variants): ``bits/8`` + one 2-byte scale per ``group_size``
  weights + a packed ``bits``-wide zero-point per group when the scheme is asymmetric
  (AWQ ``zero_point``, GPTQ ``sym: false``). ``group_size`` -1 means one scale per output channel.
  ``desc_act`` (act-order) adds a 4-byte ``g_idx`` per input channel: negligible per weight but counted.
* ``mxfp4`` (gpt-oss): the MoE experts take 4 bits + one 8-bit scale per 32 weights (0.53 byte) in the
  checkpoint; vLLM's kernel layouts add ~6 % and pad each rank's rows (``memory.layout_extra_bytes``);
  ``modules_to_not_convert`` (glob patterns such as ``model.layers.*.self_attn``) stay in bf16.
* ``compressed-tensors`` (RedHatAI / Neural Magic, llm-compressor): each ``config_groups`` entry gives
  ``weights.num_bits``/``type``/``strategy``/``group_size`` for its ``targets`` (``Linear``, module names
  or ``re:`` patterns); ``ignore`` lists unquantised modules (``lm_head``). ``pack-quantized`` packs the
  bits (4-bit = 0.5 byte); ``naive-quantized`` / ``int-quantized`` / ``float-quantized`` store one byte
  per 8-bit weight; ``nvfp4-pack-quantized`` is 4 bits + an FP8 scale per 16. Sparse formats
  (``sparse-24-bitmask``, ``marlin-24``) and unknown strategies cannot be sized from the config.

A config that cannot be sized (an unknown method or format) still parses: :attr:`QuantSpec.sizable`
is False and :attr:`QuantSpec.reason` says why; the memory model then needs the checkpoint's
``total_size`` (safetensors index), which preflight reads from the Hub or the ``gs://`` folder.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vllm_vertex.errors import PlanError

__all__ = [
    "FP8_METHODS",
    "INT_METHODS",
    "MXFP4_BYTES",
    "MXFP4_LAYOUT_OVERHEAD",
    "QuantGroup",
    "QuantSpec",
    "parse_quantization",
]

FP8_METHODS = frozenset({"fp8", "fbgemm_fp8"})
INT_METHODS = frozenset({"awq", "gptq", "awq_marlin", "gptq_marlin"})
COMPRESSED_TENSORS = "compressed-tensors"
MXFP4 = "mxfp4"
MXFP4_BYTES = 0.5 + 1 / 32  # 4 bits + an 8-bit (e8m0) scale per 32 weights, as the checkpoint stores them
# vLLM holds MXFP4 experts in its kernels' layouts (Triton swizzle on Hopper, Marlin repack), ~6 % above the
# checkpoint: gpt-oss-120b on one H100 loads 64.38 GiB (vLLM #33155) for a 60.77 GiB checkpoint. Fitted there.
MXFP4_LAYOUT_OVERHEAD = 1.06
SCALE_BYTES = 2  # group scales are stored in the activation dtype (bf16/fp16).
G_IDX_BYTES = 4  # act-order (desc_act) permutation: one int32 per input channel.
_BYTE_FORMATS = frozenset({"naive-quantized", "int-quantized", "float-quantized"})
_PACKED_FORMATS = frozenset({"pack-quantized"})
_NVFP4_FORMATS = frozenset({"nvfp4-pack-quantized"})
_UNSIZABLE_FORMATS = frozenset({"sparse-24-bitmask", "marlin-24", "sparse-bitmask", "dense"})


@dataclass(frozen=True)
class QuantGroup:
    """One quantisation scheme and the modules it applies to.

    Attributes:
        targets: ``Linear`` (every linear layer), exact module names or ``re:`` patterns.
        bytes_per_weight: GPU bytes per quantised weight, scales and zero-points included.
        scheme: Human-readable description, e.g. ``w4a16 int group 128 (pack-quantized)``.
    """

    targets: tuple[str, ...]
    bytes_per_weight: float
    scheme: str = ""


@dataclass(frozen=True)
class QuantSpec:
    """Weight quantisation read from ``quantization_config``.

    Attributes:
        method: ``quant_method`` (``""`` for none).
        groups: Schemes in the config's order; the first whose targets match a module wins.
        ignore: Modules left unquantised (exact names, name prefixes or ``re:`` patterns).
        sizable: Whether the config alone gives the weights' size.
        reason: Why it does not (empty when sizable).
    """

    method: str = ""
    groups: tuple[QuantGroup, ...] = ()
    ignore: tuple[str, ...] = ()
    sizable: bool = True
    reason: str = ""

    @property
    def linear_bytes(self) -> float:
        """Bytes per weight of the first group (the whole model for single-scheme configs)."""
        return self.groups[0].bytes_per_weight if self.groups else 0.0

    def bytes_for(self, module: str) -> float | None:
        """GPU bytes per weight of a linear module (``model.layers.3.mlp.down_proj``); None = unquantised."""
        if not self.method or not self.groups or _matches_any(module, self.ignore):
            return None
        for group in self.groups:
            if _matches_any(module, group.targets):
                return group.bytes_per_weight
        return None

    def _layers_naming(self, part: str) -> frozenset[int]:
        """Layer numbers of ``ignore`` entries like ``model.layers.3.self_attn.q_proj`` (for reports)."""
        ids = set()
        for name in self.ignore:
            pieces = name.split(".")
            if part in pieces and "layers" in pieces[:-1]:
                index = pieces[pieces.index("layers") + 1]
                if index.isdigit():
                    ids.add(int(index))
        return frozenset(ids)

    @property
    def skip_attention_layers(self) -> frozenset[int]:
        """Layers with attention projections left unquantised by ``ignore``."""
        return self._layers_naming("self_attn")

    @property
    def skip_mlp_layers(self) -> frozenset[int]:
        """Layers with MLP projections left unquantised by ``ignore``."""
        return self._layers_naming("mlp")


def _matches_any(module: str, patterns: tuple[str, ...]) -> bool:
    """compressed-tensors' matching: ``Linear``, an exact name or prefix, a bare leaf name, or ``re:``."""
    for pattern in patterns:
        if pattern == "Linear":
            return True
        if pattern.startswith("re:"):
            if re.match(pattern[3:], module):
                return True
        elif "*" in pattern:  # gpt-oss: "model.layers.*.self_attn"
            if fnmatch.fnmatchcase(module, pattern) or fnmatch.fnmatchcase(module, pattern + ".*"):
                return True
        elif module == pattern or module.startswith(pattern + ".") or module.endswith("." + pattern):
            return True
    return False


def _int_bytes(bits: int, group: int, zero_points: bool, act_order: bool, in_features: int = 8192) -> float:
    """Bytes per weight of a packed integer scheme: the bits, a scale (and zero-point) per group, g_idx."""
    group = group if group > 0 else in_features  # -1 = one scale per output channel
    per_group = SCALE_BYTES + (bits / 8 if zero_points else 0.0)
    return bits / 8 + per_group / group + (G_IDX_BYTES / 8192 if act_order else 0.0)


def _positive(qc: Mapping[str, Any], *keys: str, default: int) -> int:
    """First of ``keys`` present in ``qc`` as an int (``group_size`` may be -1)."""
    for key in keys:
        value = qc.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise PlanError(f"config field quantization_config.{key} must be an integer (got {value!r}).")
            return value
    return default


def _gptq_awq(method: str, qc: Mapping[str, Any], ignore: tuple[str, ...]) -> QuantSpec:
    bits = _positive(qc, "bits", "w_bit", default=4)
    group = _positive(qc, "group_size", "q_group_size", default=128)
    if method.startswith("awq"):
        zero = bool(qc.get("zero_point", True))
        act_order = False
    else:
        zero = not bool(qc.get("sym", True))
        act_order = bool(qc.get("desc_act", False))
    scheme = f"{method} w{bits} group {group}" + (" zero-points" if zero else "") + (" act-order" if act_order else "")
    return QuantSpec(method, (QuantGroup(("Linear",), _int_bytes(bits, group, zero, act_order), scheme),), ignore)


def _ct_group(name: str, group: Mapping[str, Any], fmt: str) -> QuantGroup | str:
    """One compressed-tensors config group, or the reason it cannot be sized."""
    weights = group.get("weights")
    targets = tuple(str(t) for t in group.get("targets") or ())
    if not targets:
        return f"config_groups.{name} has no targets"
    if not isinstance(weights, Mapping):
        return f"config_groups.{name}.weights is missing"
    fmt = str(group.get("format") or fmt)
    bits = weights.get("num_bits")
    kind = str(weights.get("type", "int"))
    strategy = str(weights.get("strategy", "tensor"))
    if not isinstance(bits, int) or not 1 <= bits <= 16:
        return f"config_groups.{name}.weights.num_bits is {bits!r}"
    if fmt in _UNSIZABLE_FORMATS or fmt not in _BYTE_FORMATS | _PACKED_FORMATS | _NVFP4_FORMATS:
        return f"format {fmt!r} (sparse or unknown) is not sized from the config"
    acts = group.get("input_activations")
    act_bits = acts.get("num_bits") if isinstance(acts, Mapping) else None
    label = f"w{bits}a{act_bits or 16} {kind} {strategy} ({fmt})"
    if fmt in _NVFP4_FORMATS:
        return QuantGroup(targets, 0.5 + 1 / 16, label)  # FP4 + an FP8 scale per 16 weights
    stored = bits / 8 if fmt in _PACKED_FORMATS else float(-(-bits // 8))
    if strategy == "group":
        size = weights.get("group_size")
        if not isinstance(size, int) or size <= 0:
            return f"config_groups.{name}.weights.group_size is {size!r}"
        zero = not bool(weights.get("symmetric", True))
        act_order = str(weights.get("actorder") or "") not in ("", "None", "False")
        return QuantGroup(targets, stored + _int_bytes(bits, size, zero, act_order) - bits / 8, label)
    if strategy in ("tensor", "channel", "token", "block", "tensor_group"):
        return QuantGroup(targets, stored + (SCALE_BYTES / 8192 if strategy == "channel" else 0.0), label)
    return f"config_groups.{name}.weights.strategy {strategy!r} is unknown"


def _compressed_tensors(qc: Mapping[str, Any], ignore: tuple[str, ...]) -> QuantSpec:
    groups = qc.get("config_groups")
    if not isinstance(groups, Mapping) or not groups:
        return QuantSpec(COMPRESSED_TENSORS, ignore=ignore, sizable=False, reason="config_groups is missing")
    fmt = str(qc.get("format") or "")
    parsed = []
    for name, group in groups.items():
        result = _ct_group(str(name), group if isinstance(group, Mapping) else {}, fmt)
        if isinstance(result, str):
            return QuantSpec(COMPRESSED_TENSORS, ignore=ignore, sizable=False, reason=result)
        parsed.append(result)
    return QuantSpec(COMPRESSED_TENSORS, tuple(parsed), ignore)


def parse_quantization(cfg: Mapping[str, Any]) -> QuantSpec:
    """Parses ``quantization_config`` (fp8/fbgemm_fp8, awq/gptq, compressed-tensors).

    Args:
        cfg: The model's ``config.json`` dict.

    Returns:
        The :class:`QuantSpec`; ``sizable`` is False (with the reason) when the config alone
        cannot give the weights' size.

    Raises:
        PlanError: ``quantization_config`` is not an object, or a field has the wrong type.
    """
    qc = cfg.get("quantization_config")
    if not qc:
        return QuantSpec()
    if not isinstance(qc, Mapping):
        raise PlanError("config field quantization_config must be an object; fix the config.json.")
    method = str(qc.get("quant_method", "")).lower()
    skip = qc.get("ignore") or qc.get("modules_to_not_convert") or qc.get("ignored_layers") or []
    ignore = tuple(str(m) for m in skip)
    if method == MXFP4:  # gpt-oss: the experts in MXFP4 (4 bits + an 8-bit scale per 32), the rest in bf16
        return QuantSpec(method, (QuantGroup((r"re:.*\.experts\.",), MXFP4_BYTES, "mxfp4 experts"),), ignore)
    if method in FP8_METHODS:
        return QuantSpec(method, (QuantGroup(("Linear",), 1.0, f"{method} w8"),), ignore)
    if method in INT_METHODS:
        return _gptq_awq(method, qc, ignore)
    if method == COMPRESSED_TENSORS:
        return _compressed_tensors(qc, ignore)
    return QuantSpec(
        method or "unknown",
        ignore=ignore,
        sizable=False,
        reason=f"quant_method {method!r} is not read by the planner "
        "(fp8, fbgemm_fp8, awq, gptq, compressed-tensors, mxfp4 are)",
    )
