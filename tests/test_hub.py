"""Model-source checks against local Hub and GCS stand-ins speaking their real wire protocols."""

import pytest

from tests.fakes.gcs import FakeGcs
from tests.fakes.hf_hub import FakeHub
from vllm_vertex.cloud.hub import SourceError, inspect_gcs, inspect_hf

CONFIG = {"architectures": ["LlamaForCausalLM"], "num_attention_heads": 32, "num_hidden_layers": 32}
TOKEN = "hf_fake_token_for_tests_0123456789"


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as hub:
        hub.add(
            "meta-llama/Open-Instruct",
            {"config.json": CONFIG, "tokenizer_config.json": {"chat_template": "{{ messages }}"},
             "model.safetensors.index.json": {"metadata": {"total_size": 16060522496}, "weight_map": {}}},
        )
        hub.add("meta-llama/Base", {"config.json": CONFIG, "tokenizer_config.json": {"bos_token": "<s>"}})
        hub.add("meta-llama/Jinja", {"config.json": CONFIG, "chat_template.jinja": b"{{ x }}",
                                     "tokenizer_config.json": {}})
        hub.add("meta-llama/Gated", {"config.json": CONFIG}, gated="manual", allowed_tokens={TOKEN})
        yield hub


@pytest.fixture(autouse=True)
def _hub_override(request, google_at):
    """Tests that use the module's Hub reach it through the context's override."""
    if "hub" in request.fixturenames:
        google_at(hf=request.getfixturevalue("hub").url)


def test_open_repo_reads_config_template_and_size(hub):
    src = inspect_hf("meta-llama/Open-Instruct", None)
    assert src.config == CONFIG and src.has_chat_template is True and src.total_size == 16060522496


def test_base_model_has_no_chat_template(hub):
    assert inspect_hf("meta-llama/Base", None).has_chat_template is False


def test_chat_template_jinja_file_counts(hub):
    assert inspect_hf("meta-llama/Jinja", None).has_chat_template is True


def test_gated_without_token_names_cause_and_fix(hub):
    with pytest.raises(SourceError) as info:
        inspect_hf("meta-llama/Gated", None)
    assert info.value.key == "hf_gated"
    assert "no HF token was given" in str(info.value) and "hf_token_secret" in str(info.value)


def test_gated_with_wrong_token_and_with_right_token(hub):
    with pytest.raises(SourceError, match="has no access"):
        inspect_hf("meta-llama/Gated", "hf_wrong")
    src = inspect_hf("meta-llama/Gated", TOKEN)
    assert src.config == CONFIG


def test_token_never_in_error_text(hub):
    with pytest.raises(SourceError) as info:
        inspect_hf("meta-llama/Gated", "hf_wrong_secret_value")
    assert "hf_wrong_secret_value" not in str(info.value)


def test_revoked_token_is_refused_not_skipped(hub):
    hub.invalid_tokens.add("hf_revoked_token_0000000000")
    with pytest.raises(SourceError) as info:
        inspect_hf("meta-llama/Gated", "hf_revoked_token_0000000000")
    assert info.value.key == "hf_token_refused" and "new read token" in str(info.value)


def test_missing_repo(hub):
    with pytest.raises(SourceError) as info:
        inspect_hf("meta-llama/Nope", None)
    assert info.value.key == "hf_not_found"


def test_gcs_folder(google_at):
    with FakeGcs() as gcs:
        google_at(gcs.url)
        gcs.put("gs://bkt/llama/config.json", CONFIG)
        gcs.put("gs://bkt/llama/tokenizer_config.json", {"chat_template": "t"})
        gcs.put("gs://bkt/llama2/config.json", {"other": True})
        src = inspect_gcs("gs://bkt/llama", "p")
        assert src.config == CONFIG and src.has_chat_template is True and src.total_size is None
        with pytest.raises(SourceError, match="no config.json"):
            inspect_gcs("gs://bkt/empty", "p")
