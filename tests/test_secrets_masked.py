"""Secrets are never echoed: a credential planted in every string field, on every path, is refused and masked.

Paths: the run file (``vllm-vertex submit`` / ``schedule create``), compile (``compile_pipeline``, what
``compile.py`` and ``vllm-vertex compile`` call), the console (the validate-config step, called directly
and run under ``kfp.local`` with its whole log captured), and command-line flags. For each, the secret's
body is searched in everything produced: the exception, stdout, stderr, the CLI output, files written.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import typing

import pytest
from click.testing import CliRunner

import components as c
from pipelines import compile_pipeline
from vllm_vertex import configfile, redact
from vllm_vertex.cli import main
from vllm_vertex.config import ConfigError, DeploymentConfig, from_preset
from vllm_vertex.parameters import kind

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXT = ROOT / "examples" / "text-llama-3.1-8b.yaml"

# kind -> (planted value, the part that must never appear)
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" * 2
SECRETS = {
    "hf": ("hf_" + "Hq7" * 12, "Hq7" * 12),
    "ya29": ("ya29.a0AfH6SMB" + "Xw4" * 15, "Xw4" * 15),
    "api_key": ("AIzaSy" + "Kd2" * 11, "Kd2" * 11),
    "pem": (f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----\n", PEM_BODY[:40]),
}


def _str_fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if kind(typing.get_type_hints(cls)[f.name]) is str]  # Literal too


CONFIG_STR_FIELDS = _str_fields(DeploymentConfig)


def _plantings(secret: str) -> list[tuple[str, dict]]:
    """(where, config changes) for every string place of a DeploymentConfig, alone and inside text."""
    out = [(name, {name: secret}) for name in CONFIG_STR_FIELDS]
    out += [(f"{name} (inside text)", {name: f"see {secret} here"}) for name in ("model_id", "smoke_prompt")]
    out += [
        ("extra_vllm_args item", {"extra_vllm_args": [secret]}),
        ("extra_vllm_args value", {"extra_vllm_args": [f"--hf-token={secret}"]}),
        ("labels value", {"labels": {"team": secret}}),
        ("labels key", {"labels": {secret: "x"}}),
    ]
    return out


CASES = [
    pytest.param(kind, where, changes, id=f"{kind}-{where}")
    for kind, (secret, _) in SECRETS.items()
    for where, changes in _plantings(secret)
]


def _assert_hidden(kind: str, *texts: str) -> None:
    body = SECRETS[kind][1]
    for text in texts:
        assert body not in text, text


def test_mask_covers_every_kind_and_leaves_ordinary_text():
    for secret, body in SECRETS.values():
        masked = redact.mask(f"value {secret!r} and again {secret}")
        assert body not in masked and redact.MASK in masked
        assert redact.find_secret(secret)
    for kind_text in ("ghp_" + "a1" * 18, "sk-proj-" + "b2" * 12, "AKIAABCDEFGHIJKLMNOP", "1//0g" + "c3" * 12,
                      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", "xoxb-1234567890-abc"):
        assert redact.find_secret(kind_text) and kind_text not in redact.mask(kind_text), kind_text
    ordinary = ("hf_token_secret is projects/p/secrets/hf-token/versions/latest; model meta-llama/Llama-3.1-8B; "
                "region us-central1; task-abcdefghijklmnopqrstuvwxyz; --max-model-len=8192")
    assert redact.mask(ordinary) == ordinary and redact.find_secret(ordinary) is None
    # a JSON-escaped key (as in a service account key file) and a repr'd newline before a token
    escaped = json.dumps({"private_key": SECRETS["pem"][0]})
    assert PEM_BODY[:40] not in redact.mask(escaped)
    assert SECRETS["hf"][1] not in redact.mask(repr("line\n" + SECRETS["hf"][0]))


# run file ----------------------------------------------------------------------------------------------


def _run_file(tmp_path, changes: dict) -> str:
    data = {"preset": "llama-3.1-8b-instruct", "project": "my-project", "region": "us-central1",
            "pipeline": {"pipeline_root": "gs://bkt/root"}, "schedule": {"cron": "0 3 * * *"}}
    for key, value in changes.items():
        if "." in key:
            section, name = key.split(".")
            data[section] = {**data.get(section, {}), name: value}
        else:
            data[key] = value
    path = tmp_path / "run.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML; keeps multi-line keys exact
    return str(path)


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


SECTION_FIELDS = [f"pipeline.{n}" for n in _str_fields(configfile.PipelineSettings)] + [
    f"schedule.{n}" for n in _str_fields(configfile.ScheduleSettings)
] + ["canary.endpoint", "preset", "pipeline.labels"]


@pytest.mark.parametrize(("kind", "where", "changes"), CASES)
def test_run_file_path(tmp_path, kind, where, changes):
    path = _run_file(tmp_path, changes)
    with pytest.raises(ConfigError) as info:
        configfile.load(path)
    for command in (["submit", path], ["schedule", "create", path]):
        result = _cli(*command)
        assert result.exit_code == 2, result.output
        _assert_hidden(kind, result.output, str(result.exception or ""))
    _assert_hidden(kind, str(info.value), repr(info.value.problems))


@pytest.mark.parametrize("kind", SECRETS)
@pytest.mark.parametrize("where", SECTION_FIELDS)
def test_run_file_sections(tmp_path, kind, where):
    secret = SECRETS[kind][0]
    value = {"team": secret} if where == "pipeline.labels" else secret
    path = _run_file(tmp_path, {where: value})
    result = _cli("schedule", "create", path)
    assert result.exit_code == 2, result.output
    assert "credential" in result.output or "token" in result.output
    _assert_hidden(kind, result.output)


# compile -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "where", "changes"), CASES)
def test_compile_path(tmp_path, capsys, kind, where, changes):
    cfg = from_preset("llama-3.1-8b-instruct", **{"project": "my-project", **changes})
    out = tmp_path / "pipeline.yaml"
    with pytest.raises(ConfigError) as info:
        compile_pipeline(cfg, out)
    assert not out.exists()
    captured = capsys.readouterr()
    _assert_hidden(kind, str(info.value), captured.out, captured.err)


# console: the validate-config step ---------------------------------------------------------------------


def _console_args(changes: dict) -> dict:
    values = json.loads(from_preset("llama-3.1-8b-instruct", project="my-project").to_json())
    values.update(changes)
    values["location"] = values.pop("region")
    return values


@pytest.mark.parametrize(("kind", "where", "changes"), CASES)
def test_console_path(capsys, kind, where, changes):
    with pytest.raises(ConfigError) as info:
        c.validate_config.python_func(**_console_args(changes), job_resource_name="r")
    captured = capsys.readouterr()
    assert where.split(" ")[0].split(".")[0] in {n for n, _ in info.value.problems} | {"labels", "extra_vllm_args"}
    _assert_hidden(kind, str(info.value), captured.out, captured.err)


def test_console_step_log_under_kfp_local(tmp_path, capfd):
    """The real step's whole log, KFP's own echo of its inputs included (the step's streams are masked before the
    executor logs them), holds no value."""
    from kfp import local
    from kfp.local import config

    secret, body = SECRETS["hf"]
    changes = {"region": secret, "model_id": f"org/{secret}", "labels": {"team": secret}, "smoke_prompt": secret,
               "extra_vllm_args": [f"--x={secret}"]}
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    try:
        with pytest.raises(RuntimeError, match="FAILURE"):
            c.validate_config(**_console_args(changes), job_resource_name="r")
    finally:
        config.LocalExecutionConfig.instance = None
    log = capfd.readouterr()
    text = log.out + log.err
    assert "invalid deployment configuration" in text and "region: 'hf_****'" in text
    assert "Got executor_input" in text and body not in text  # KFP's executor logs its inputs, masked
    _assert_hidden("hf", text)
    for path in (tmp_path / "root").rglob("*"):
        if path.is_file():
            _assert_hidden("hf", path.read_text(errors="replace"))


# command-line flags ------------------------------------------------------------------------------------


def _flag_commands(secret: str) -> list[list[str]]:
    text = str(TEXT)
    return [
        ["submit", text, "--project", secret],
        ["submit", text, "--region", secret],
        ["submit", text, "--canary", "--endpoint", secret],
        ["schedule", "create", text, "--cron", secret],
        ["schedule", "create", text, "--cron", f"0 3 * * * {secret}"],
        ["plan", "--preset", secret],
        ["plan", "--model-config", secret],
        ["plan", "--preset", "llama-3.1-8b-instruct", "--max-model-len", secret],
        ["smoke", "--endpoint", "123", "--project", "my-project", "--region", "us-central1", "--prompt", secret],
        ["smoke", "--endpoint", "123", "--project", "my-project", "--region", "us-central1", "--image-url", secret],
        ["smoke", "--endpoint", secret, "--project", "my-project", "--region", "us-central1"],
        ["teardown", "--endpoint", secret, "--project", "my-project", "--region", "us-central1", "--yes"],
        ["compile", f"--{secret}"],
    ]


FLAG_CASES = [
    pytest.param(kind, i, id=f"{kind}-{' '.join(cmd[:2])}-{i}")
    for kind, (secret, _) in SECRETS.items()
    for i, cmd in enumerate(_flag_commands(secret))
]


@pytest.mark.parametrize(("kind", "index"), FLAG_CASES)
def test_cli_flags_path(kind, index):
    command = _flag_commands(SECRETS[kind][0])[index]
    result = _cli(*command)
    assert result.exit_code == 2, (command, result.output, result.exception)
    _assert_hidden(kind, result.output, str(result.exception or ""))
