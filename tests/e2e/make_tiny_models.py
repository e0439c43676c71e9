"""Create tiny random-weight models for offline end-to-end serving tests.

Runs INSIDE the vLLM virtualenv (needs torch, transformers, tokenizers, safetensors); no network, no hub.

    .venv-vllm/bin/python tests/e2e/make_tiny_models.py [OUT_DIR] [--force]

OUT_DIR defaults to ``$TINY_MODELS_DIR`` or ``.cache/tiny-models`` (relative to the repo root). It receives:

* ``tiny-llama`` -- random ``LlamaForCausalLM`` (hidden 128, 4 heads, 2 KV heads, head_dim 32, 2 layers) with a
  byte-level BPE tokenizer trained here on printable ASCII (random ids decode to printable text) and a
  Llama-3-like chat template.
* ``tiny-llava`` -- random ``LlavaForConditionalGeneration``: CLIP vision tower (32 px, patch 8, 2 layers) + the
  same tiny Llama text model, a ``LlavaProcessor`` (CLIP image processor) and a chat template that renders
  image parts as ``<image>``.

Everything is seeded, so a re-run produces the same weights and vocab. Each directory has a ``config.json`` with
the usual Hugging Face fields (``num_hidden_layers``, ``num_key_value_heads``, ``head_dim``, ...), usable by a
capacity planner. A model directory whose ``.complete`` marker exists is left alone unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = 1234
VOCAB_SIZE = 512
MARKER = ".complete"

SPECIAL_TOKENS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|pad|>",
    "<image>",
]

# Llama-3-like template. Content may be a string or a list of OpenAI-style parts; image parts
# ({"type": "image"} / {"type": "image_url"}) render as the LLaVA placeholder "<image>".
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['content'] is string %}"
    "{{- message['content'] }}"
    "{%- else %}"
    "{%- for part in message['content'] %}"
    "{%- if part['type'] == 'text' %}{{- part['text'] }}"
    "{%- elif part['type'] in ['image', 'image_url'] %}{{- '<image>' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- endif %}"
    "{{- '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

TEXT_CONFIG = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    max_position_embeddings=2048,
    rms_norm_eps=1e-5,
    rope_theta=500000.0,
    hidden_act="silu",
    tie_word_embeddings=False,
    initializer_range=0.02,
)

VISION_CONFIG = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=2,
    image_size=32,
    patch_size=8,
    num_channels=3,
    projection_dim=64,
    hidden_act="quick_gelu",
)


def _corpus(seed: int = SEED) -> list[str]:
    """Deterministic printable-ASCII training text: English-ish words plus random printable runs."""
    rng = random.Random(seed)
    words = (
        "the a an of to and in is it you that he was for on are with as I his they be at one have this from "
        "or had by word but what some we can out other were all there when up use your how said each she which "
        "do their time if will way about many then them write would like so these her long make thing see him "
        "two has look more day could go come did number sound no most people my over know water than call first "
        "who may down side been now find any new work part take get place made live where after back little only "
        "round man year came show every good me give our under name very through just form sentence great think "
        "say help low line differ turn cause much mean before move right boy old too same tell does set three want "
        "air well also play small end put home read hand port large spell add even land here must big high such "
        "picture image photo cat dog red blue green model vertex serve token prompt output answer question"
    ).split()
    printable = string.ascii_letters + string.digits + string.punctuation + " "
    lines = []
    for _ in range(4000):
        n = rng.randint(3, 14)
        sent = " ".join(rng.choice(words) for _ in range(n))
        if rng.random() < 0.5:
            sent = sent.capitalize() + rng.choice([".", "?", "!", ",", ":", ";"])
        if rng.random() < 0.3:
            sent += " " + "".join(rng.choice(printable) for _ in range(rng.randint(1, 12)))
        lines.append(sent)
    lines.append(printable)
    return lines


def make_tokenizer(out: Path):
    """Train a byte-level BPE tokenizer on printable ASCII and save it as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    # Only the byte-level symbols of printable ASCII (+ space, newline, tab) form the alphabet, so any id
    # decodes to printable text.
    chars = string.ascii_letters + string.digits + string.punctuation + " \n\t"
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    initial = sorted({sym for ch in chars for sym, _ in byte_level.pre_tokenize_str(ch)})
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=initial,
        limit_alphabet=len(initial),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A",
        pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|pad|>",
        clean_up_tokenization_spaces=False,
        model_max_length=2048,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return fast


def _generation_config(tok):
    from transformers import GenerationConfig

    return GenerationConfig(
        bos_token_id=tok.bos_token_id,
        eos_token_id=[tok.convert_tokens_to_ids("<|eot_id|>"), tok.convert_tokens_to_ids("<|end_of_text|>")],
        pad_token_id=tok.pad_token_id,
        do_sample=False,
        max_length=2048,
    )


def _text_config(tok):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.convert_tokens_to_ids("<|eot_id|>"),
        pad_token_id=tok.pad_token_id,
        **TEXT_CONFIG,
    )


def make_tiny_llama(out: Path) -> None:
    import torch
    from transformers import LlamaForCausalLM

    tok = make_tokenizer(out)
    torch.manual_seed(SEED)
    cfg = _text_config(tok)
    cfg.architectures = ["LlamaForCausalLM"]
    model = LlamaForCausalLM(cfg).to(torch.float32)
    model.save_pretrained(out, safe_serialization=True)
    _generation_config(tok).save_pretrained(out)


def _fix_vision_tower_keys(out: Path) -> int:
    """transformers 5.x saves CLIP tower keys as ``...vision_tower.embeddings...``; vLLM's LLaVA loader expects the
    ``CLIPVisionModel`` layout ``vision_tower.vision_model.embeddings...``. Rename in every safetensors shard."""
    from safetensors.torch import load_file, save_file

    renamed = 0
    for shard in sorted(out.glob("*.safetensors")):
        tensors = load_file(str(shard))
        fixed = {}
        for key, value in tensors.items():
            new = key
            idx = key.find("vision_tower.")
            if idx >= 0 and not key[idx:].startswith("vision_tower.vision_model."):
                head = key[: idx + len("vision_tower.")]
                new = head + "vision_model." + key[idx + len("vision_tower.") :]
                renamed += 1
            fixed[new] = value.contiguous()
        save_file(fixed, str(shard), metadata={"format": "pt"})
    index = out / "model.safetensors.index.json"
    if index.exists():
        data = json.loads(index.read_text())
        wm = {}
        for key, shard in data.get("weight_map", {}).items():
            idx = key.find("vision_tower.")
            if idx >= 0 and not key[idx:].startswith("vision_tower.vision_model."):
                key = key[: idx + len("vision_tower.")] + "vision_model." + key[idx + len("vision_tower.") :]
            wm[key] = shard
        data["weight_map"] = wm
        index.write_text(json.dumps(data, indent=2))
    return renamed


def make_tiny_llava(out: Path) -> None:
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = make_tokenizer(out)
    image_token_id = tok.convert_tokens_to_ids("<image>")
    torch.manual_seed(SEED + 1)
    vision = CLIPVisionConfig(**VISION_CONFIG)
    text = _text_config(tok)
    text.architectures = ["LlamaForCausalLM"]
    cfg = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=image_token_id,
        image_seq_length=(VISION_CONFIG["image_size"] // VISION_CONFIG["patch_size"]) ** 2,
        projector_hidden_act="gelu",
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )
    cfg.architectures = ["LlavaForConditionalGeneration"]
    model = LlavaForConditionalGeneration(cfg).to(torch.float32)
    model.save_pretrained(out, safe_serialization=True)
    _generation_config(tok).save_pretrained(out)
    renamed = _fix_vision_tower_keys(out)
    print(f"  tiny-llava: renamed {renamed} vision tower keys", flush=True)

    size = VISION_CONFIG["image_size"]
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        do_resize=True,
        do_center_crop=True,
        do_normalize=True,
        do_convert_rgb=True,
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=VISION_CONFIG["patch_size"],
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    processor.save_pretrained(out)


def _chat_template_in_tokenizer_config(out: Path) -> None:
    """transformers 5 writes the template to chat_template.jinja only; older readers look in tokenizer_config.json."""
    path = out / "tokenizer_config.json"
    data = json.loads(path.read_text())
    data["chat_template"] = CHAT_TEMPLATE
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _build(name: str, builder, root: Path, force: bool) -> None:
    out = root / name
    if (out / MARKER).exists() and not force:
        print(f"  {name}: present ({out})", flush=True)
        return
    t0 = time.monotonic()
    tmp = root / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    builder(tmp)
    _chat_template_in_tokenizer_config(tmp)
    (tmp / MARKER).write_text(json.dumps({"seed": SEED}) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"  {name}: created in {time.monotonic() - t0:.1f}s ({out})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default=os.environ.get("TINY_MODELS_DIR", ".cache/tiny-models"))
    parser.add_argument("--force", action="store_true", help="rebuild even when present")
    args = parser.parse_args(argv)
    root = Path(args.out_dir)
    if not root.is_absolute():
        root = REPO_ROOT / root
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    t0 = time.monotonic()
    _build("tiny-llama", make_tiny_llama, root, args.force)
    _build("tiny-llava", make_tiny_llava, root, args.force)
    print(f"tiny models ready in {time.monotonic() - t0:.1f}s: {root}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
