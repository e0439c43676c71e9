"""A gated tiny model staged offline end to end (#20): the fake Hub → the Cloud Storage stand-in → a Model that
loads the gs:// folder with real vLLM behind it; no Model carries the token, and a second run copies 0 bytes."""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import TINY_TEXT, TOKEN, run_pipeline
from tests.e2e.matrix import WEIGHTS_BUCKET, _staging, staged_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200), pytest.mark.world(reuse_servers=True, models=("tiny-llama",))]


def test_gated_model_deploys_from_staged_weights_with_no_token_in_any_model(world):
    _staging(world)
    result = run_pipeline(world, staged_config("always"))
    assert result.status == "SUCCESS", result.error or result.log[-3000:]
    assert world.counts() == (0, 0)
    names = world.standin.storage.names(WEIGHTS_BUCKET)
    assert any(n.endswith("/_COMPLETE") for n in names) and any(n.endswith("model.safetensors") for n in names)
    uploads = [json.loads(body) for method, path, body in world.standin.requests
               if path.split("?")[0].endswith("models:upload")]
    assert len(uploads) == 1
    spec = uploads[0]["model"]["containerSpec"]
    assert all(e["name"] != "HF_TOKEN" for e in spec.get("env", []))
    assert any(a.startswith(f"--model=gs://{WEIGHTS_BUCKET}/hf/{TINY_TEXT}/") for a in spec["args"])
    assert not [path for _, path, body in world.standin.requests if TOKEN in body]  # Google never received it
    assert TOKEN not in result.log

    uploaded = world.standin.storage.uploaded_bytes
    again = run_pipeline(world, staged_config("always"))
    assert again.status == "SUCCESS", again.error or again.log[-3000:]
    assert world.standin.storage.uploaded_bytes == uploaded  # the second run copied 0 bytes
    assert "nothing to copy" in again.log
