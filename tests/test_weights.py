"""Staged weights (#20): the pure core, and the stager against the Cloud Storage stand-in and a Hub with LFS metadata.

What the stand-ins received is the evidence: the bytes the Hub sent, the bytes Cloud Storage received, the
Model's container spec in the upload request.
"""

from __future__ import annotations

import json

import pytest
from kfp.dsl import Markdown

import components as c
from tests.fakes.hf_hub import FakeHub, LazyFile
from vllm_vertex import planner
from vllm_vertex.cloud import weights as cw
from vllm_vertex.config import from_preset
from vllm_vertex.errors import SourceError, StagingError
from vllm_vertex.weights import manifest as mf
from vllm_vertex.weights.progress import Progress
from vllm_vertex.weights.selection import needed

PROJECT = "my-proj"
TOKEN = "hf_PLANTED_staging_token_0123456789"
SECRET = f"projects/{PROJECT}/secrets/hf-token/versions/latest"
REPO = "org/gated-tiny"
SHA = "0123456789abcdef0123456789abcdef01234567"
V1 = "feedfacefeedfacefeedfacefeedfacefeedface"
BUCKET = "weights-cache"
DEST = f"gs://{BUCKET}/hf"
FOLDER = f"{DEST}/{REPO}/{SHA}/"
SHARDS = {"model-00001-of-00002.safetensors": LazyFile(3_000_000, 1),
          "model-00002-of-00002.safetensors": LazyFile(2_000_000, 2)}
STAGED = ["config.json", "generation_config.json", "model-00001-of-00002.safetensors",
          "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"]
pytestmark = [pytest.mark.timeout(120), pytest.mark.standin(secrets={"projects/my-proj/secrets/hf-token": TOKEN})]


# the pure core -----------------------------------------------------------------------------------------------


def test_needed_takes_what_vllm_loads_and_leaves_the_rest():
    repo = ["README.md", "config.json", "original/consolidated.00.pth", "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json", "merges.txt",
            "chat_template.jinja", "generation_config.json", "preprocessor_config.json", "onnx/model.onnx",
            "consolidated.safetensors", "params.json", "modeling_x.py", "additional_chat_templates/tool.jinja",
            "images/logo.png", "pytorch_model.bin"]
    assert needed(repo) == [
        "additional_chat_templates/tool.jinja", "chat_template.jinja", "config.json", "generation_config.json",
        "merges.txt", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "model.safetensors.index.json", "modeling_x.py", "params.json", "preprocessor_config.json", "tokenizer.json",
    ]
    assert needed(["consolidated.safetensors", "params.json", "tekken.json"]) == [
        "consolidated.safetensors", "params.json", "tekken.json"]  # Mistral format alone: its weights are those
    assert needed(["pytorch_model.bin", "pytorch_model.bin.index.json", "config.json"]) == [
        "config.json", "pytorch_model.bin", "pytorch_model.bin.index.json"]
    assert needed(["config.json", "README.md"]) == []


def test_layout_and_manifest_round_trip():
    assert mf.staged_uri("gs://b/some/prefix/", "org/name", SHA) == f"gs://b/some/prefix/org/name/{SHA}/"
    assert mf.staged_uri("gs://b", "org/name", SHA) == f"gs://b/org/name/{SHA}/"
    assert mf.split_uri("gs://b/p/q/") == ("b", "p/q/") and mf.split_uri("gs://b") == ("b", "")
    files = [mf.FileEntry("a.safetensors", 10, "ab" * 32, "c" * 40, "AAAA=="), mf.FileEntry("config.json", 2, "", "d" * 40)]
    m = mf.Manifest(REPO, "v1", SHA, "gs://b/x/", files, copied_bytes=12, seconds=1.5, staged_at="2026-12-03T00:00:00+00:00")
    back = mf.Manifest.from_json(m.to_json())
    assert back == m and back.total_bytes == 12 and back.crc32c() == {"a.safetensors": "AAAA=="}
    assert json.loads(m.to_json())["total_bytes"] == 12
    with pytest.raises(ValueError, match="not a staging manifest"):
        mf.Manifest.from_json(b'{"repo": 1}')


def test_object_problem_names_each_mismatch():
    entry = mf.FileEntry("w.safetensors", 100, "ab" * 32, "c" * 40)
    good = mf.ObjectInfo(100, {mf.DIGEST_KEY: f"sha256:{'ab' * 32}"}, "crc=")
    assert mf.object_problem(entry, good) is None and mf.object_problem(entry, good, "crc=") is None
    assert mf.object_problem(entry, None) == "missing"
    assert "size 99 bytes" in mf.object_problem(entry, mf.ObjectInfo(99, good.metadata, "crc="))
    assert "source digest" in mf.object_problem(entry, mf.ObjectInfo(100, {}, "crc="))
    assert "crc32c" in mf.object_problem(entry, good, "other=")
    small = mf.FileEntry("config.json", 2, "", "d" * 40)
    assert mf.object_problem(small, mf.ObjectInfo(2, {mf.DIGEST_KEY: f"git-sha1:{'d' * 40}"}, "x")) is None


def test_progress_line_has_bytes_rate_and_eta():
    now = [0.0]
    p = Progress(2_000_000_000, every=5, clock=lambda: now[0])
    now[0] = 2.0
    assert p.add(100_000_000) is None  # not due yet
    now[0] = 10.0
    assert p.add(400_000_000) == "staged 500.0 MB of 2.0 GB (25 %), 50.0 MB/s, ETA 30 s"
    now[0] = 40.0
    p.add(1_500_000_000)
    assert p.line().endswith("done")


# the stager against the stand-ins ----------------------------------------------------------------------------


@pytest.fixture
def hub(google_at):
    with FakeHub() as hub:
        files = {
            "config.json": planner.shipped_config("meta-llama/Meta-Llama-3.1-8B-Instruct"), "generation_config.json": {},
            "tokenizer.json": {"model": {}}, "tokenizer_config.json": {"chat_template": "{{ messages }}"},
            "model.safetensors.index.json": {"metadata": {"total_size": 5_000_000}, "weight_map": {}},
            "README.md": b"# tiny", "original/consolidated.00.pth": b"not for vLLM",
            **{name: LazyFile(f.size, f.seed) for name, f in SHARDS.items()},  # fresh: a test may alter one
        }
        hub.add(REPO, files, gated="manual", allowed_tokens={TOKEN}, sha=SHA, revisions={"v1.0": V1})
        google_at(hf=hub.url)
        yield hub


@pytest.fixture
def bucket(standin):
    standin.cloud.add_project(PROJECT)
    standin.cloud.add_bucket(PROJECT, BUCKET)
    standin.cloud.grant(f"buckets/{BUCKET}", standin.cloud.caller, "roles/storage.objectAdmin")
    return standin


def _stage(revision: str = "", token: str | None = TOKEN, lines: list | None = None, **kw) -> cw.StageResult:
    log = (lines.append if lines is not None else lambda _: None)
    return cw.stage(REPO, revision, DEST, PROJECT, token, log=log, chunk_size=1 << 20, every=0, **kw)


def test_stages_only_what_vllm_needs_with_the_manifest_last(hub, bucket):
    lines: list[str] = []
    result = _stage(lines=lines)
    names = bucket.storage.names(BUCKET)
    assert names == sorted(f"hf/{REPO}/{SHA}/{n}" for n in [*STAGED, "_COMPLETE"])
    manifest = mf.Manifest.from_json(bucket.storage.read(FOLDER + "_COMPLETE"))
    assert manifest.sha == SHA and manifest.uri == FOLDER and [f.path for f in manifest.files] == STAGED
    assert all(f.crc32c for f in manifest.files) and manifest.copied_bytes == manifest.total_bytes
    shard = manifest.files[2]
    assert shard.sha256 == SHARDS[shard.path].sha256 and shard.size == 3_000_000
    assert bucket.storage.read(FOLDER + shard.path) == b"".join(SHARDS[shard.path].chunks())
    last_write = [i for i, (m, p, _) in enumerate(bucket.requests) if m in ("POST", "PUT") and "/o" in p][-1]
    assert "_COMPLETE" in bucket.requests[last_write][1] + bucket.requests[last_write][2]
    assert any("staged " in line and "MB/s" in line and ("ETA" in line or "done" in line) for line in lines)
    assert result.manifest.uri == FOLDER and set(result.copied) == set(STAGED)


def test_second_run_copies_zero_bytes(hub, bucket):
    _stage()
    hub_sent, gcs_got = hub.sent_bytes, bucket.storage.uploaded_bytes
    again = _stage()
    assert again.copied == {} and again.copied_bytes == 0
    assert hub.sent_bytes == hub_sent and bucket.storage.uploaded_bytes == gcs_got
    assert again.manifest.copied_bytes == again.manifest.total_bytes  # the marker keeps the first run's figures


def test_interrupted_staging_resumes_and_copies_less(hub, bucket):
    hub.fail("/org/gated-tiny/resolve/*/model-00002-of-00002.safetensors", 503)
    with pytest.raises(StagingError, match=r"Hub failed while copying files .*HTTP 503.*kept") as err:
        _stage(workers=1)
    assert "run again" in err.value.user_message()
    names = bucket.storage.names(BUCKET)
    assert f"hf/{REPO}/{SHA}/_COMPLETE" not in names and f"hf/{REPO}/{SHA}/model-00002-of-00002.safetensors" not in names
    assert bucket.storage.sessions == {}  # the aborted upload was cancelled, never finalised
    kept = {n.rsplit("/", 1)[1] for n in names}
    assert "model-00001-of-00002.safetensors" in kept  # copied before the failure, in path order
    before = hub.sent_bytes
    again = _stage(workers=1)
    assert set(again.copied) == set(STAGED) - kept and "model-00002-of-00002.safetensors" in again.copied
    assert 0 < again.copied_bytes < again.manifest.total_bytes and hub.sent_bytes - before == again.copied_bytes
    assert f"hf/{REPO}/{SHA}/_COMPLETE" in bucket.storage.names(BUCKET)


def test_corrupted_or_truncated_objects_are_copied_again(hub, bucket):
    _stage()
    shard = "model-00001-of-00002.safetensors"
    original = bucket.storage.read(FOLDER + shard)
    bucket.storage.replace_bytes(FOLDER + shard, bytes(len(original)))  # same size, same metadata, other bytes
    again = _stage()
    assert list(again.copied) == [shard] and "crc32c" in again.copied[shard]
    assert bucket.storage.read(FOLDER + shard) == original
    bucket.storage.put(FOLDER + "tokenizer.json", b"{", metadata={})  # a partial copy by something else
    assert list(_stage().copied) == ["tokenizer.json"]


def test_bytes_that_do_not_match_the_hub_metadata_are_never_finalised(hub, bucket):
    shard = "model-00002-of-00002.safetensors"
    hub.repos[REPO].files[shard].__dict__["sha256"] = "0" * 64  # the Hub's LFS metadata now says another sha256
    with pytest.raises(StagingError, match=f"{shard}: the bytes from the Hub .* do not match"):
        _stage()
    assert f"hf/{REPO}/{SHA}/{shard}" not in bucket.storage.names(BUCKET) and bucket.storage.sessions == {}


def test_revision_is_pinned_to_its_commit(hub, bucket):
    assert _stage("v1.0").manifest.uri == f"{DEST}/{REPO}/{V1}/"
    with pytest.raises(SourceError, match="no revision named like model_revision"):
        _stage("no-such-branch")


def test_gated_repo_without_token_says_so(hub, bucket):
    with pytest.raises(SourceError, match="is gated"):
        _stage(token=None)


@pytest.mark.parametrize(("setup", "message"), [
    (lambda s: s.cloud.revoke(f"buckets/{BUCKET}", s.cloud.caller, "roles/storage.objectAdmin"),
     "refused to write .*HTTP 403"),
    (lambda s: s.cloud.buckets.pop(BUCKET), "does not exist"),
    (lambda s: (s.cloud.revoke(f"buckets/{BUCKET}", s.cloud.caller, "roles/storage.objectAdmin"),
                s.cloud.grant(f"buckets/{BUCKET}", s.cloud.caller, "roles/storage.objectViewer")),
     "refused to write .*HTTP 403"),  # lists, then the upload itself is refused
])
def test_bucket_refusals_name_the_fix(hub, bucket, setup, message):
    import gc

    setup(bucket)
    with pytest.raises(StagingError, match=message) as err:
        _stage()
    assert "gs://weights-cache" in err.value.user_message()
    def uploads() -> int:
        return sum(1 for method, _, _ in bucket.requests if method in ("POST", "PUT"))

    before = uploads()
    gc.collect()  # a refused upload's writer must not try again when it is collected
    # Only uploads count: a stand-in thread may record a read the refused staging made just before it returned.
    assert uploads() == before and bucket.storage.sessions == {}


def test_gated_model_staged_then_uploaded_carries_no_token(hub, bucket, tmp_path, capsys):
    """The pipeline's two steps: stage-weights, then place-and-deploy with its output. No Model gets HF_TOKEN."""
    cfg = from_preset("llama-3.1-8b-instruct", project=PROJECT, model_id=REPO, hf_token_secret=SECRET,
                      stage_weights_to=DEST).to_json()
    report = Markdown(name="report", uri="", metadata={})
    report.path = str(tmp_path / "staged.md")
    uri = c.stage_weights.python_func(config=cfg, report=report)
    assert uri == FOLDER
    text = (tmp_path / "staged.md").read_text()
    manifest = mf.Manifest.from_json(bucket.storage.read(FOLDER + "_COMPLETE"))
    assert SHA in text and FOLDER in text and f"{manifest.total_bytes:,}" in text and REPO in text
    from tests.steps import place

    place(cfg, "run-1", weights_uri=uri)  # place-and-deploy: upload, endpoint, deploy
    uploads = [json.loads(b) for m, p, b in bucket.requests if p.split("?")[0].endswith("models:upload")]
    assert len(uploads) == 1
    spec = uploads[0]["model"]["containerSpec"]
    assert all(e["name"] != "HF_TOKEN" for e in spec.get("env", [])) and f"--model={FOLDER}" in spec["args"]
    assert {"name": "MODEL_ID", "value": FOLDER} in spec["env"]
    out = capsys.readouterr()
    everything = out.out + out.err + text + json.dumps(bucket.requests)
    assert TOKEN not in everything  # not in logs, the report, nor anything Google received
    assert any(auth == "token" for _, p, auth in hub.requests if "/resolve/" in p)  # the Hub got it, as a header


def test_staging_off_is_a_no_op(hub, bucket, tmp_path):
    cfg = from_preset("llama-3.1-8b-instruct", project=PROJECT, model_id=REPO).to_json()
    report = Markdown(name="report", uri="", metadata={})
    report.path = str(tmp_path / "staged.md")
    assert c.stage_weights.python_func(config=cfg, report=report) == ""
    assert bucket.storage.names(BUCKET) == [] and hub.sent_bytes == 0
    assert "Off" in (tmp_path / "staged.md").read_text()


# the cache: `vllm-vertex weights list / prune`; cleanup leaves it --------------------------------------------


def test_folder_of_and_prune_plan():
    assert mf.folder_of(f"org/name/{SHA}/config.json") == ("org/name", SHA)
    assert mf.folder_of(f"org/name/{SHA}/_COMPLETE") == ("org/name", SHA)
    assert mf.folder_of("org/name/config.json") is None and mf.folder_of(f"{SHA}/x") is None
    copies = [mf.StagedCopy("a/m", "1" * 40, "u1", True, staged_at="2026-01-01"),
              mf.StagedCopy("a/m", "2" * 40, "u2", True, staged_at="2026-02-01"),
              mf.StagedCopy("a/m", "3" * 40, "u3", False),
              mf.StagedCopy("b/m", "4" * 40, "u4", True, staged_at="2025-01-01")]
    assert [c.uri for c in mf.prune_plan(copies, 1)] == ["u1"]
    assert mf.prune_plan(copies, 2) == []


def _backdate(bucket, folder: str, when: str) -> None:
    manifest = mf.Manifest.from_json(bucket.storage.read(folder + "_COMPLETE"))
    manifest.staged_at = when
    bucket.storage.put(folder + "_COMPLETE", manifest.to_json().encode())


def test_weights_list_and_prune_keep_the_newest_and_partial_folders(hub, bucket):
    from tests.cli_support import invoke

    _stage("v1.0")
    _backdate(bucket, f"{DEST}/{REPO}/{V1}/", "2026-01-01T00:00:00+00:00")
    _stage()
    bucket.storage.put(f"{DEST}/org/other/{'9' * 40}/config.json", b"{}")  # a staging cut short
    listed = json.loads(invoke(bucket, "weights", "list", DEST, "--project", PROJECT, "--json").output)
    assert [(c["repo"], c["sha"], c["complete"]) for c in listed] == [
        ("org/gated-tiny", V1, True), ("org/gated-tiny", SHA, True), ("org/other", "9" * 40, False)]
    assert listed[1]["bytes"] == mf.Manifest.from_json(bucket.storage.read(FOLDER + "_COMPLETE")).total_bytes
    text = invoke(bucket, "weights", "list", DEST, "--project", PROJECT).output
    assert "complete" in text and "partial" in text and "v1.0" in text
    dry = invoke(bucket, "weights", "prune", DEST, "--keep", "1", "--project", PROJECT, "--dry-run")
    assert f"would delete {DEST}/{REPO}/{V1}/" in dry.output and len(bucket.storage.names(BUCKET)) == 17
    result = invoke(bucket, "weights", "prune", DEST, "--keep", "1", "--project", PROJECT, "--json")
    assert json.loads(result.output)["deleted"] == [f"{DEST}/{REPO}/{V1}/"]
    left = bucket.storage.names(BUCKET)
    assert not any(V1 in n for n in left) and any(SHA in n for n in left) and any("9" * 40 in n for n in left)
    bad = invoke(bucket, "weights", "list", "s3://nope", "--project", PROJECT)
    assert bad.exit_code == 2 and "gs://bucket[/prefix]" in bad.output


def test_cleanup_never_deletes_staged_weights(hub, bucket):
    from vllm_vertex.cloud.teardown import teardown_run_or_raise

    _stage()
    before = bucket.storage.names(BUCKET)
    teardown_run_or_raise(PROJECT, "us-central1", "run-1")
    assert bucket.storage.names(BUCKET) == before
    assert not [p for m, p, _ in bucket.requests if m == "DELETE" and "/o/" in p]


def _preflight(tmp_path, **kw) -> str:
    cfg = from_preset("llama-3.1-8b-instruct", project=PROJECT, model_id=REPO, hf_token_secret=SECRET, **kw).to_json()
    report = Markdown(name="report", uri="", metadata={})
    report.path = str(tmp_path / "preflight.md")
    try:
        c.preflight.python_func(config=cfg, report=report)
    except RuntimeError:
        pass
    return (tmp_path / "preflight.md").read_text()


def test_preflight_reads_the_complete_staged_copy_at_the_pinned_commit(hub, bucket, tmp_path):
    assert "config from hub" in _preflight(tmp_path, stage_weights_to=DEST)  # not staged yet
    _stage("v1.0")
    before = len(bucket.requests)
    assert "config from gcs" in _preflight(tmp_path, stage_weights_to=DEST, model_revision="v1.0")
    listed = [p for m, p, _ in bucket.requests[before:] if m == "GET" and "/o?" in p]
    assert listed and all(f"prefix=hf/{REPO}/{V1}/" in p for p in listed)
    assert "config from hub" in _preflight(tmp_path, stage_weights_to=DEST)  # the default branch: another commit
    text = _preflight(tmp_path, model_revision="no-such-tag")
    assert "hf_revision_not_found" in text and "no-such-tag" in text
