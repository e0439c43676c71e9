"""The mask holds for the secret shapes of issue 17 (item 5), on the paths that quote a server or a user (item 4)."""

import base64
import json
import types

import pytest

from tests.cli_support import invoke
from vllm_vertex import configfile, redact
from vllm_vertex.cloud import jobs, vertex

BODY = "Hq7Zk2" * 6  # the part that must never show
HF = "hf_" + BODY

SHAPES = {
    "url-encoded": f"token=hf%5F{BODY}&x=1",
    "url-encoded lower": f"token=hf%5f{BODY}",
    "u-escaped": f'{{"t": "hf\\u005f{BODY}"}}',
    "base64": base64.b64encode(HF.encode()).decode(),
    "base64 inside": "Basic " + base64.b64encode(f"user:{HF}".encode()).decode(),
    "bearer": f"Authorization: Bearer {BODY}.x-y",
    "url credentials": f"https://alice:{BODY}@huggingface.co/meta-llama/Llama-3.1-8B",
    "GOCSPX": f"client_secret GOCSPX-{BODY}",
    "PEM body": f"key:\n{'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC' + BODY}\n{BODY}{BODY}==\n",
    "private_key_id": json.dumps({"type": "service_account", "private_key_id": BODY.lower() + "0123"}),
    "HF_TOKEN env": f"HF_TOKEN={BODY}",
    "HF_TOKEN quoted": f"'HF_TOKEN': '{BODY}'",
    "HF_TOKEN env list": json.dumps([{"name": "HF_TOKEN", "value": BODY}]),
    "HF_TOKEN proto": f'env {{\n  name: "HF_TOKEN"\n  value: "{BODY}"\n}}',
    "split across lines": f"{HF[:20]}\n{HF[20:]} and more",
    "split after prefix": f"hf_\n{BODY} and more",
    "split in a repr": repr(f"{HF[:20]}\n{HF[20:]}"),
}


def _hidden(text: str) -> bool:
    """No 8-character piece of the secret's body is left (so neither half of a split token shows)."""
    return not any(BODY[i : i + 8] in text or BODY[i : i + 8].lower() in text for i in range(len(BODY) - 8))


@pytest.mark.parametrize("text", SHAPES.values(), ids=SHAPES.keys())
def test_mask_hides_every_shape_and_finds_it(text):
    masked = redact.mask(text)
    assert _hidden(masked), masked
    assert redact.MASK in masked and redact.find_secret(text)


def test_mask_keeps_what_is_around_the_secret():
    assert redact.mask(SHAPES["bearer"]) == "Authorization: Bearer ****"
    assert redact.mask(SHAPES["url credentials"]).startswith("https://alice:****@huggingface.co/")
    assert redact.mask(SHAPES["HF_TOKEN env"]) == "HF_TOKEN=****"
    assert redact.mask(SHAPES["split across lines"]).count("\n") == 1  # the log keeps its lines


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1:8080/v1/chat/completions",
        "hf_token_secret: projects/p/secrets/hf-token/versions/latest",
        "the Bearer token is refreshed",
        "data:image/png;base64," + base64.b64encode(bytes(range(256)) * 64).decode(),
        "MIIE is a prefix, not a key",
    ],
)
def test_mask_leaves_ordinary_text(text):
    assert redact.mask(text) == text and redact.find_secret(text) is None


def test_configfile_uses_the_one_detector():
    assert not hasattr(configfile, "_TOKEN_RE")
    for text in SHAPES.values():
        assert configfile.looks_like_token(text), text
    assert configfile.looks_like_token("hf_abcdefgh")  # a short token on its own is still refused


def test_run_file_with_url_credentials_in_model_id_is_refused_without_the_secret(tmp_path):
    run = tmp_path / "run.yaml"
    model = f"https://alice:{BODY}@huggingface.co/meta-llama/Llama-3.1-8B-Instruct"
    run.write_text(f"preset: llama-3.1-8b-instruct\nproject: p\nregion: us-central1\nmodel_id: '{model}'\n")
    result = invoke(None, "submit", str(run), "--dry-run")
    assert result.exit_code == 2 and "model_id" in result.output
    assert _hidden(result.output), result.output


def test_deploy_error_masks_vertex_text_and_the_container_log_line():
    lines = f"start\ntorch.OutOfMemoryError: CUDA out of memory HF_TOKEN={BODY} hf%5F{BODY}\x1b[2J\n"
    key, text = vertex._root_cause("Internal error", lambda: lines, lambda _line: None)
    assert key and "Container log:" in text and _hidden(text) and "\x1b" not in text


def test_job_and_task_errors_are_masked():
    task = types.SimpleNamespace(
        task_name="place-and-deploy",
        state=types.SimpleNamespace(name="FAILED"),
        error=types.SimpleNamespace(message=f"container said Bearer {BODY}"),
        start_time=None,
        end_time=None,
    )
    job = types.SimpleNamespace(
        job_detail=types.SimpleNamespace(task_details=[task]),
        state=types.SimpleNamespace(name="PIPELINE_STATE_FAILED"),
    )
    lines = jobs.state_changes(job, {})
    assert any("place-and-deploy: FAILED" in line for line in lines) and all(_hidden(line) for line in lines)
