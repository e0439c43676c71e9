"""``presets``, ``endpoints``, ``runs`` and ``logs`` against the stand-in.

Endpoints are real (deployed with the product's own code); runs are stored in the stand-in's pipeline store
as Vertex would list them, each playing a scripted frame per ``get`` (tests/standin/pipeline_jobs.py).
"""

import json
import shlex

import pytest

from tests.cli_support import PROJECT, REGION, WHERE, deploy, invoke
from tests.standin import misc
from tests.standin.pipeline_jobs import Frame, pipelines, run_script, task_job
from tests.standin.state import now, project_number
from vllm_vertex import naming, pricing
from vllm_vertex.cloud.context import CloudContext, using
from vllm_vertex.recipes import PRESETS

pytestmark = pytest.mark.timeout(120)


def _job(standin, job_id: str, frames: list[Frame], labels: dict | None = None) -> str:
    """A run stored in the stand-in as ``pipelineJobs.create`` stores it; returns its name."""
    name = f"projects/{project_number(PROJECT)}/locations/{REGION}/pipelineJobs/{job_id}"  # as Vertex names it
    store, ts = pipelines(standin), now()
    job = {"name": name, "displayName": job_id, "createTime": ts, "updateTime": ts, "state": "PIPELINE_STATE_PENDING",
           "labels": naming.MANAGED_BY if labels is None else labels, "pipelineSpec": {"root": {}},
           "runtimeConfig": {"gcsOutputDirectory": "gs://my-bucket/root", "parameterValues": {}}}  # fmt: skip
    with standin.state.lock:
        store.jobs[name] = job
        store.frames[name] = list(frames)
    return name


def _foreign_endpoint(standin) -> str:
    """An endpoint with a model deployed that vllm-vertex did not make (no managed-by label)."""
    endpoint = deploy(standin, run_label="theirs")
    with standin.state.lock:
        standin.state.endpoints[endpoint.name]["labels"] = {"team": "search"}
    return endpoint.name


def test_presets_lists_every_preset_with_its_hardware_and_price_offline():
    result = invoke(None, "presets")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:6] == ["PRESET", "MODEL", "MACHINE", "GPUS", "MAX_LEN", "$/H"]
    assert len(lines) == 1 + len(PRESETS)
    row = next(line for line in lines if line.startswith("llama-3.1-70b-instruct "))
    assert "meta-llama/Meta-Llama-3.1-70B-Instruct" in row and "g2-standard-96" in row and "8x NVIDIA_L4" in row
    assert " 4096 " in row
    data = json.loads(invoke(None, "presets", "--json").output)
    assert {d["preset"] for d in data} == set(PRESETS)
    for d in data:
        rate = pricing.rate_for(d["machine_type"])
        assert d["usd_per_hour"] == rate.usd_per_hour
        assert d["price_source"]  # a figure's source, or where to look when unknown
        assert d["accelerator_count"] == PRESETS[d["preset"]].accelerator_count


def test_endpoints_lists_managed_deployments_with_the_teardown_command(standin):
    endpoint = deploy(standin, run_label="run-a")
    foreign = _foreign_endpoint(standin)
    result = invoke(standin, "endpoints", *WHERE)
    assert result.exit_code == 0, result.output
    endpoint_id = endpoint.name.rsplit("/", 1)[-1]
    row = next(line for line in result.output.splitlines() if line.startswith(endpoint_id + " "))
    assert "g2-standard-12" in row and "run-a" in row and "Llama-3.1-8B-Instruct" in row
    command = f"vllm-vertex teardown --run-label run-a --project {PROJECT} --region {REGION}"
    assert f"{endpoint.name}: remove with: {command}" in result.output
    assert foreign.rsplit("/", 1)[-1] not in result.output
    data = json.loads(invoke(standin, "endpoints", *WHERE, "--json").output)
    assert [d["endpoint"] for d in data] == [endpoint.name]
    assert data[0]["replicas"] == 1 and data[0]["managed"] is True
    assert shlex.split(data[0]["teardown"]) == shlex.split(command)
    assert data[0]["usd_per_hour"] == pricing.rate_for("g2-standard-12").usd_per_hour


def test_endpoints_all_marks_foreign_endpoints_read_only_without_a_teardown_command(standin):
    deploy(standin, run_label="run-a")
    foreign = _foreign_endpoint(standin)
    result = invoke(standin, "endpoints", *WHERE, "--all")
    assert result.exit_code == 0, result.output
    assert f"{foreign.rsplit('/', 1)[-1]} (read-only)" in result.output
    assert f"{foreign}: not made by vllm-vertex; read-only here" in result.output
    data = {d["endpoint"]: d for d in json.loads(invoke(standin, "endpoints", *WHERE, "--all", "--json").output)}
    assert data[foreign]["managed"] is False and data[foreign]["teardown"] == ""
    assert data[foreign]["run_label"] == ""


def test_endpoints_quotes_a_label_the_shell_would_split(standin):
    from vllm_vertex.cloud.listing import teardown_command

    command = teardown_command("projects/p/locations/r/endpoints/1", "a b;c", "my project", "us-central1")
    assert shlex.split(command) == ["vllm-vertex", "teardown", "--run-label", "a b;c", "--project", "my project",
                                    "--region", "us-central1"]  # fmt: skip


def test_endpoints_leaves_out_endpoints_with_nothing_deployed(standin):
    from vllm_vertex.cloud import vertex
    from vllm_vertex.config import from_preset

    with using(CloudContext(api_endpoint=standin.url)):
        vertex.create_endpoint(from_preset("llama-3.1-8b-instruct", project=PROJECT), "empty-run")
    result = invoke(standin, "endpoints", *WHERE)
    assert result.exit_code == 0 and "no deployments billing now" in result.output


@pytest.mark.parametrize(("command", "args"), [("endpoints", []), ("runs", []), ("endpoints", ["--project", "p"])])
def test_lists_without_a_location_exit_2_before_any_call(standin, command, args):
    result = invoke(standin, command, *args)
    assert result.exit_code == 2 and "missing" in result.output and "--region" in result.output
    assert standin.requests == []


def test_runs_lists_ours_newest_first_with_what_they_keep(standin):
    old = _job(standin, "run-old", run_script(endpoint="")[-1:])
    kept_run = _job(standin, "run-kept", [Frame("SUCCEEDED", {"place-and-deploy": "SUCCEEDED"})])
    _job(standin, "someone-else", [Frame("RUNNING")], labels={"team": "x"})
    for name in (old, kept_run):  # the first get shows a frame: the run started
        with using(CloudContext(api_endpoint=standin.url)):
            from vllm_vertex.cloud import jobs

            jobs.get(name)
    endpoint = deploy(standin, run_label=naming.run_label_value(kept_run))
    result = invoke(standin, "runs", *WHERE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["RUN", "STATE", "START", "DURATION", "KEEPS", "COST", "SO", "FAR"]
    assert [line.split()[0] for line in lines[1:]] == ["run-kept", "run-old"]
    assert endpoint.name.rsplit("/", 1)[-1] in lines[1] and "SUCCEEDED" in lines[1]
    assert "someone-else" not in result.output
    data = json.loads(invoke(standin, "runs", *WHERE, "--json", "--limit", "1").output)
    assert [r["name"] for r in data] == [kept_run]
    assert data[0]["run_label"] == naming.run_label_value(kept_run)
    assert [d["endpoint"] for d in data[0]["keeps"]] == [endpoint.name]
    assert data[0]["duration_seconds"] is not None and data[0]["start"].endswith("Z")
    listed = [p for m, p, _ in standin.requests if m == "GET" and "/pipelineJobs?" in p]
    assert listed and all("managed-by" in p for p in listed)


def test_logs_prints_each_step_and_the_serving_log(standin):
    endpoint = deploy(standin)
    name = _job(standin, "run-logs", run_script(endpoint=endpoint.name)[-1:])
    misc.write_task_log(standin, task_job(name, "place-and-deploy"), "deploying to the endpoint")
    misc.write_task_log(standin, task_job(name, "smoke-test"), "text_predict: pass")
    misc.write_task_log(standin, task_job("projects/p/locations/r/pipelineJobs/other", "smoke-test"), "not ours")
    misc.write_log(standin, endpoint.name.rsplit("/", 1)[-1], "vLLM API server ready", severity="INFO")
    result = invoke(standin, "logs", name)
    assert result.exit_code == 0, result.output
    assert "place-and-deploy INFO: deploying to the endpoint" in result.output
    assert "smoke-test INFO: text_predict: pass" in result.output
    assert "not ours" not in result.output and "serving" not in result.output
    one = invoke(standin, "logs", name, "--step", "smoke-test", "--serving")
    assert "deploying" not in one.output and "text_predict: pass" in one.output
    assert "serving INFO: vLLM API server ready" in one.output
    data = json.loads(invoke(standin, "logs", name, "--json", "--step", "place-and-deploy").output)
    assert [(d["source"], d["text"]) for d in data] == [("place-and-deploy", "deploying to the endpoint")]


def test_logs_of_an_unknown_step_exits_2_naming_the_steps(standin):
    name = _job(standin, "run-steps", run_script()[-1:])
    result = invoke(standin, "logs", name, "--step", "deploy")
    assert result.exit_code == 2 and "no step 'deploy'" in result.output and "place-and-deploy" in result.output
    bad = invoke(standin, "logs", "Not A Run")
    assert bad.exit_code == 2 and "is not a run" in bad.output


def test_logs_follow_prints_new_lines_until_the_run_ends(standin, virtual_clock):
    frames = [Frame("RUNNING", {"place-and-deploy": "RUNNING"}), Frame("RUNNING", {"place-and-deploy": "RUNNING"}),
              Frame("SUCCEEDED", {"place-and-deploy": "SUCCEEDED"})]  # fmt: skip
    name = _job(standin, "run-follow", frames)
    custom_job = task_job(name, "place-and-deploy")
    misc.write_task_log(standin, custom_job, "first line")
    start = virtual_clock.monotonic()
    slept = []
    original = virtual_clock.sleep

    def sleep(seconds):  # a new line appears while the follower waits
        slept.append(seconds)
        misc.write_task_log(standin, custom_job, f"line after wait {len(slept)}")
        original(seconds)

    virtual_clock.sleep = sleep
    result = invoke(standin, "logs", name, "--follow", "--poll-seconds", "5")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("first line") == 1  # each line once
    assert "line after wait 1" in out and "line after wait 2" in out and "line after wait 3" not in out
    assert slept == [5, 5] and virtual_clock.monotonic() - start == 10


def test_logs_follow_stops_on_ctrl_c_with_130(standin, virtual_clock):
    name = _job(standin, "run-ctrl-c", [Frame("RUNNING", {"place-and-deploy": "RUNNING"})])

    def interrupted(seconds):
        raise KeyboardInterrupt

    virtual_clock.sleep = interrupted
    result = invoke(standin, "logs", name, "--follow")
    assert result.exit_code == 130 and "stopped following" in result.output


def _label(standin, endpoint: str, **labels: str) -> None:
    """Sets labels on an endpoint of the stand-in (``managed_by`` → ``managed-by``, ``_`` → ``-``)."""
    with standin.state.lock:
        standin.state.endpoints[endpoint]["labels"].update({k.replace("_", "-"): v for k, v in labels.items()})


def test_a_kept_run_labels_its_endpoint_with_when_it_expires(standin):
    import time

    from vllm_vertex.cloud import vertex
    from vllm_vertex.config import from_preset

    before = time.time()
    with using(CloudContext(api_endpoint=standin.url)):
        kept = vertex.create_endpoint(from_preset("llama-3.1-8b-instruct", project=PROJECT, keep_for_hours=6), "run-k")
        plain = vertex.create_endpoint(from_preset("llama-3.1-8b-instruct", project=PROJECT), "run-p")
    until = int(kept.labels[naming.KEEP_UNTIL_KEY])
    assert before + 6 * 3600 - 1 <= until <= time.time() + 6 * 3600
    assert naming.KEEP_UNTIL_KEY not in plain.labels


@pytest.mark.parametrize(
    ("fields", "text"),
    [({"keep_for_hours": -1}, "out of range"), ({"keep_for_hours": 2, "teardown_policy": "always"}, "keeps nothing"),
     ({"labels": {naming.KEEP_UNTIL_KEY: "1"}}, "is set by vllm-vertex")],
)
def test_keep_for_hours_bad_values_are_refused_by_name(fields, text):
    from vllm_vertex.config import from_preset, validate
    from vllm_vertex.errors import ConfigError

    with pytest.raises(ConfigError, match=text):
        validate(from_preset("llama-3.1-8b-instruct", project=PROJECT, **fields))


def test_teardown_expired_removes_only_our_runs_whose_keep_until_passed(standin):
    expired = deploy(standin, run_label="run-old")
    _label(standin, expired.name, vllm_vertex_keep_until="1000")
    fresh = deploy(standin, run_label="run-new")
    _label(standin, fresh.name, vllm_vertex_keep_until="99999999999")
    forever = deploy(standin, run_label="run-forever")
    foreign = deploy(standin, run_label="run-theirs")
    with standin.state.lock:
        standin.state.endpoints[foreign.name]["labels"] = {"vllm-vertex-keep-until": "1000", "team": "x"}
    declined = invoke(standin, "teardown", "--expired", *WHERE, input="n\n")
    assert declined.exit_code == 0 and expired.name in declined.output and "nothing removed" in declined.output
    assert fresh.name not in declined.output and foreign.name not in declined.output
    result = invoke(standin, "teardown", "--expired", *WHERE, "--yes", "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert expired.name in outcome["removed"] and outcome["failed"] == {}
    left = standin.resources()
    assert set(left["endpoints"]) == {fresh.name, forever.name, foreign.name}
    assert all(m["labels"][naming.RUN_LABEL_KEY] != "run-old" for m in left["models"].values())  # its model too
    assert len(left["models"]) == 3
    nothing = invoke(standin, "teardown", "--expired", *WHERE, "--yes")
    assert nothing.exit_code == 0 and "nothing to remove" in nothing.output


@pytest.mark.parametrize("args", [["--expired"], ["--expired", "--run-label", "x", *WHERE]])
def test_teardown_expired_bad_input_exits_2(standin, args):
    result = invoke(standin, "teardown", *args, "--yes")
    assert result.exit_code == 2 and ("missing" in result.output or "exactly one of" in result.output)
    assert standin.requests == []


def test_endpoints_mask_credentials_and_escape_control_characters_from_the_cloud(standin):
    endpoint = deploy(standin)
    token = "hf_" + "A" * 30
    with standin.state.lock:
        standin.state.endpoints[endpoint.name]["deployedModels"][0]["displayName"] = f"x\x1b[2J{token}"
    for args in ([], ["--json"]):
        result = invoke(standin, "endpoints", *WHERE, *args)
        assert result.exit_code == 0, result.output
        assert token not in result.output and "\x1b" not in result.output
    assert "x\\x1b[2J" in invoke(standin, "endpoints", *WHERE).output
