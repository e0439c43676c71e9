"""Only Google's vLLM serving images get the HF token unless the run opts in (issue 17, item 9)."""

import pytest

from tests.cli_support import invoke
from vllm_vertex import recipes
from vllm_vertex.config import ConfigError, from_preset, is_google_serving_image, validate, warnings

ATTACKER = "docker.io/attacker/exfil:latest"


def _cfg(**changes):
    return from_preset("llama-3.1-8b-instruct", project="my-project-1", **changes)


@pytest.mark.parametrize("preset", sorted(recipes.PRESETS))
def test_every_preset_image_is_accepted_without_a_warning(preset):
    cfg = validate(from_preset(preset, project="my-project-1"))
    assert is_google_serving_image(cfg.serving_image) and warnings(cfg) == []


@pytest.mark.parametrize(
    "image",
    [
        ATTACKER,
        "vllm/vllm-openai:v0.8.0",
        "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers.attacker.io/x:1",
        "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve:1\n",
        "us-docker.pkg.dev/attacker/vertex-vision-model-garden-dockers/pytorch-vllm-serve:1",
    ],
)
def test_other_images_are_refused_unless_allowed(image):
    with pytest.raises(ConfigError, match="allow_custom_serving_image: true") as info:
        validate(_cfg(serving_image=image))
    assert "receives the HF token" in str(info.value)


def test_an_allowed_custom_image_validates_and_warns():
    cfg = validate(_cfg(serving_image=ATTACKER, allow_custom_serving_image=True,
                        hf_token_secret="projects/p/secrets/hf/versions/latest"))  # fmt: skip
    (line,) = warnings(cfg)
    assert ATTACKER in line and "HF token" in line


def test_google_images_with_other_tags_and_digests_are_accepted():
    repo = "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers"
    for image in (f"{repo}/vllm-serve-gpu:20251126_0916_RC01", f"{repo}/pytorch-vllm-serve@sha256:{'a' * 64}"):
        assert is_google_serving_image(image)
        validate(_cfg(serving_image=image))


def test_submit_dry_run_refuses_a_custom_image_and_warns_when_allowed(tmp_path):
    run = tmp_path / "run.yaml"
    base = ("preset: llama-3.1-8b-instruct\nproject: my-project-1\nregion: us-central1\n"
            f"serving_image: {ATTACKER}\npipeline:\n  pipeline_root: gs://my-bucket/root\n")  # fmt: skip
    run.write_text(base)
    refused = invoke(None, "submit", str(run), "--dry-run")
    assert refused.exit_code == 2 and "allow_custom_serving_image" in refused.output
    run.write_text(base + "allow_custom_serving_image: true\n")
    allowed = invoke(None, "submit", str(run), "--dry-run")
    assert allowed.exit_code == 0, allowed.output
    assert "warning: serving_image docker.io/attacker/exfil:latest is not Google's" in allowed.output
