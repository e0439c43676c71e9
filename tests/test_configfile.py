"""Run files: every bad input is named with its field and fix; the examples are valid."""

import pathlib

import pytest
import yaml

from vllm_vertex import configfile
from vllm_vertex.config import ConfigError

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXT = ROOT / "examples" / "text-llama-3.1-8b.yaml"
MULTIMODAL = ROOT / "examples" / "multimodal-llama-3.2-11b-vision.yaml"
BASE = {"preset": "llama-3.1-8b-instruct", "project": "my-project", "region": "us-central1"}


def _problems(**changes) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        configfile.parse({**BASE, **changes})
    return dict(info.value.problems)


def test_text_example_is_valid():
    run = configfile.load(str(TEXT))
    assert run.config.model_id == "meta-llama/Meta-Llama-3.1-8B-Instruct"
    assert run.config.multimodal is False and run.config.teardown_policy == "always"
    assert run.config.hf_token_secret == "projects/my-project/secrets/hf-token/versions/latest"
    assert run.pipeline.pipeline_root.startswith("gs://")
    assert run.schedule.cron == "TZ=Etc/UTC 0 3 * * *" and run.schedule.max_concurrent_runs == 1
    configfile.require_schedule(run)


def test_multimodal_example_is_valid():
    run = configfile.load(str(MULTIMODAL))
    assert run.config.multimodal and run.config.run_image_checks and run.config.max_num_seqs == 12
    assert run.config.dedicated_endpoint is True
    assert run.pipeline.network == "projects/123456789012/global/networks/default"
    assert configfile.require_canary(run).canary.endpoint.endswith("/endpoints/1234567890")


def test_preset_values_are_overridden_and_ints_widen_to_floats():
    run = configfile.parse({**BASE, "max_model_len": 2048, "gpu_memory_utilization": 1})
    assert run.config.max_model_len == 2048
    assert run.config.gpu_memory_utilization == 1.0 and isinstance(run.config.gpu_memory_utilization, float)


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"max_model_lenn": 4}, "max_model_lenn", "Did you mean 'max_model_len'?"),
        ({"pipeline": {"pipeline_rot": "gs://b/r"}}, "pipeline.pipeline_rot", "Did you mean 'pipeline_root'?"),
        ({"schedule": {"cronn": "0 3 * * *"}}, "schedule.cronn", "'cron'"),
        ({"max_model_len": "4096"}, "max_model_len", "must be an integer, got str '4096'"),
        ({"max_model_len": 4096.5}, "max_model_len", "must be an integer"),
        ({"multimodal": "yes"}, "multimodal", "must be true or false"),
        ({"accelerator_count": True}, "accelerator_count", "must be an integer, got bool"),
        ({"labels": {"version": 2}}, "labels", "mapping of strings to strings"),
        ({"extra_vllm_args": "--enable-foo"}, "extra_vllm_args", "a list of strings"),
        ({"model_id": None}, "model_id", "has no value"),
        ({"pipeline": "gs://b/r"}, "pipeline", "must be a mapping"),
        ({"schedule": {"max_concurrent_runs": "1"}}, "schedule.max_concurrent_runs", "an integer"),
    ],
)
def test_unknown_keys_and_wrong_types(changes, field, text):
    problems = _problems(**changes)
    assert text in problems[field], problems


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization", "outside (0, 1]"),
        ({"region": "us-centrall1"}, "region", "us-central1"),
        ({"teardown_policy": "sometimes"}, "teardown_policy", "always, on_failure, never"),
        ({"project": ""}, "project", "is missing"),
        ({"pipeline": {"pipeline_root": "/tmp/root"}}, "pipeline.pipeline_root", "gs://"),
        ({"pipeline": {"network": "default"}}, "pipeline.network", "projects/PROJECT_NUMBER/global/networks"),
        ({"pipeline": {"service_account": "me"}}, "pipeline.service_account", "iam.gserviceaccount.com"),
        ({"pipeline": {"labels": {"Team": "x"}}}, "pipeline.labels", "lowercase"),
        ({"schedule": {"cron": "61 * * * *"}}, "schedule.cron", "minute takes 0-59"),
        ({"schedule": {"max_concurrent_runs": 0}}, "schedule.max_concurrent_runs", "at least 1"),
        ({"canary": {"endpoint": "my-endpoint"}}, "canary.endpoint", "numeric endpoint ID"),
    ],
)
def test_value_ranges_use_the_pipelines_rules(changes, field, text):
    problems = _problems(**changes)
    assert text in problems[field], problems


def test_region_is_required_and_all_problems_come_at_once():
    data = {"preset": "llama-3.1-8b-instruct", "max_model_len": 0}
    with pytest.raises(ConfigError) as info:
        configfile.parse(data)
    problems = dict(info.value.problems)
    assert {"project", "region", "max_model_len"} <= set(problems)
    assert "e.g. region: us-central1" in problems["region"]


@pytest.mark.parametrize("where", ["hf_token_secret", "smoke_prompt"])
def test_plain_token_is_rejected_and_never_echoed(where):
    token = "hf_AbCdEfGhIjKlMnOpQrStUvWx"
    with pytest.raises(ConfigError) as info:
        configfile.parse({**BASE, where: token})
    assert "looks like a token" in dict(info.value.problems)[where]
    assert "Secret Manager" in str(info.value)
    assert token not in str(info.value)


def test_unknown_preset_names_the_closest():
    with pytest.raises(ConfigError, match="llama-3.1-8b-instruct"):
        configfile.parse({**BASE, "preset": "llama-3.1-8b-instrct"})


def test_file_that_does_not_parse_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("project: my-project\nregion: [us-central1\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        configfile.load(str(path))


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        configfile.load(str(tmp_path / "absent.yaml"))
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        configfile.load(str(tmp_path / "list.yaml"))


def test_overrides_apply_before_validation(tmp_path):
    data = yaml.safe_load(TEXT.read_text())
    data.pop("project")
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="project"):
        configfile.load(str(path))
    run = configfile.load(str(path), {"project": "ci-project", "canary": {"endpoint": "42"}})
    assert run.config.project == "ci-project" and run.canary.endpoint == "42"
    assert run.pipeline.pipeline_root  # sections keep their other keys


@pytest.mark.parametrize("cron", ["0 3 * * *", "TZ=America/New_York 30 6 * * 1-5", "CRON_TZ=Etc/UTC */15 * * * *"])
def test_valid_cron(cron):
    assert configfile.validate_cron(cron) == cron


@pytest.mark.parametrize(
    ("cron", "text"),
    [
        ("61 * * * *", "minute takes 0-59"),
        ("0 3 * * * *", "has 6 field"),
        ("@daily", "has 1 field"),
        ("TZ=Mars/Base 0 3 * * *", "IANA"),
    ],
)
def test_invalid_cron(cron, text):
    with pytest.raises(ConfigError, match=text):
        configfile.validate_cron(cron)


def test_submission_needs_a_pipeline_root_and_schedule_a_cron():
    run = configfile.parse(dict(BASE))
    with pytest.raises(ConfigError, match="pipeline.pipeline_root"):
        configfile.require_submission(run)
    run.pipeline.pipeline_root = "gs://b/r"
    with pytest.raises(ConfigError, match="schedule.cron"):
        configfile.require_schedule(run)
    with pytest.raises(ConfigError, match="canary.endpoint"):
        configfile.require_canary(run)


def test_duplicate_top_level_key_names_the_key_and_both_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(
        "preset: llama-3.1-8b-instruct\nproject: my-project\nregion: us-central1\n"
        "teardown_policy: always\nmax_model_len: 2048\nteardown_policy: never\n"
    )
    with pytest.raises(ConfigError) as info:
        configfile.load(str(path))
    message = dict(info.value.problems)["file"]
    assert "'teardown_policy'" in message and "lines 4 and 6" in message
    assert "Keep one" in message


def test_duplicate_key_in_a_nested_section_and_three_times(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(
        "project: my-project\nregion: us-central1\nmodel_id: a/b\n"
        "pipeline:\n  pipeline_root: gs://b/r\n  labels:\n    team: ml\n    team: ops\n    team: x\n"
    )
    with pytest.raises(ConfigError, match=r"key 'team' is given 3 times in one mapping, at lines 7, 8 and 9"):
        configfile.load(str(path))


def test_same_key_in_different_mappings_is_fine(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(
        "preset: llama-3.1-8b-instruct\nproject: my-project\nregion: us-central1\n"
        "labels: {team: ml}\npipeline:\n  pipeline_root: gs://bkt/r\n  labels: {team: ml}\n"
    )
    run = configfile.load(str(path))
    assert run.config.labels == run.pipeline.labels == {"team": "ml"}


def test_yaml_1_2_booleans_are_not_guessed(tmp_path):
    path = tmp_path / "yes.yaml"
    path.write_text("preset: llama-3.1-8b-instruct\nproject: my-project\nregion: us-central1\nspot: yes\n")
    with pytest.raises(ConfigError, match="write true or false"):
        configfile.load(str(path))


def test_duplicate_key_that_is_a_token_is_masked(tmp_path):
    token = "hf_" + "Q" * 34
    path = tmp_path / "dup.yaml"
    path.write_text(f"project: my-project\n{token}: 1\n{token}: 2\n")
    with pytest.raises(ConfigError) as info:
        configfile.load(str(path))
    assert "lines 2 and 3" in str(info.value) and token not in str(info.value)
