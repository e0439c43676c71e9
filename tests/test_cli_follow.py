"""Finishing a run for the user: the end of ``submit --wait``, ``status RUN``, ``follow RUN``, deploy stages, ``--json``.

Against the stand-in: its pipelineJobs play scripted frames (tests/standin/pipeline_jobs.py) and
its endpoints are real (deployed with the product's own code), so the deploy stages a follower
reads come from a real deploy operation's metadata.
"""

import datetime
import json

import pytest
import yaml

from tests.cli_support import PROJECT, TEXT, WHERE, deploy, invoke
from tests.standin import billing as catalog_data
from tests.standin.pipeline_jobs import pipelines, run_script
from vllm_vertex import naming
from vllm_vertex.cloud import jobs
from vllm_vertex.finish import CatalogRate, RunOutcome

pytestmark = pytest.mark.timeout(120)


def _run_file(tmp_path, **fields) -> str:
    """The text example with ``fields`` changed, as a run file."""
    data = {**yaml.safe_load(open(TEXT)), **fields}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def on_failure_run(tmp_path) -> str:
    """The text example with the default policy, on_failure: a passing run keeps its deployment."""
    return _run_file(tmp_path, teardown_policy="on_failure")


_TEMPLATE: list[str] = []  # one compiled pipeline for the module's runs (values are sent as parameters)


@pytest.fixture(scope="module", autouse=True)
def _compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    assert invoke(None, "compile", "--out", str(out)).exit_code == 0
    _TEMPLATE[:] = [str(out / "vllm-deploy-text.yaml")]


def _submit(standin, *args, input=None):
    return invoke(standin, "submit", *args, "--yaml", _TEMPLATE[0], "--poll-seconds", "0", input=input)


def test_wait_ends_with_the_endpoint_how_to_use_it_the_report_and_what_is_kept(standin, on_failure_run):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    result = _submit(standin, on_failure_run, "--wait")
    assert result.exit_code == 0, result.output
    out = result.output
    project, endpoint_id = endpoint.name.split("/")[1], endpoint.name.rsplit("/", 1)[-1]  # Vertex names: numbers
    assert f"endpoint: {endpoint.name}" in out
    assert (f"  console: https://console.cloud.google.com/vertex-ai/online-prediction/locations/us-central1/"
            f"endpoints/{endpoint_id}?project={project}") in out  # fmt: skip
    assert f"  smoke it again: vllm-vertex smoke {endpoint.name}" in out
    assert (f'client = openai.OpenAI(base_url="https://us-central1-aiplatform.googleapis.com/v1beta1/{endpoint.name}", '
            "api_key=creds.token)") in out  # fmt: skip
    assert "report: gs://my-bucket/vllm-vertex/pipeline-root/run/smoke-test/report" in out
    assert f"KEPT (billing until removed): {endpoint.name}" in out and "on_failure keeps" in out
    assert "  cost: $1.14/h (live: Vertex AI prediction" in out  # the catalogue's wins over the table's 1.15
    name = next(iter(pipelines(standin).jobs))
    label, project = naming.run_label_value(name), name.split("/")[1]
    assert f"  remove it: vllm-vertex teardown --run-label {label} --project {project} --region us-central1" in out


def test_wait_ends_with_every_placement_attempt_and_cleans_every_region(standin, tmp_path):
    endpoint = deploy(standin, region="us-east4")
    script = run_script(endpoint=endpoint.name)
    attempts = [
        {"candidate": 1, "where": "us-central1 g2-standard-12 1× NVIDIA_L4", "region": "us-central1",
         "outcome": "stockout", "error": "deploy failed: Machine type temporarily unavailable", "minutes": 12.5,
         "cost": "no replica served: nothing billed for GPUs"},
        {"candidate": 2, "where": "us-east4 g2-standard-24 2× NVIDIA_L4", "region": "us-east4",
         "outcome": "deployed", "error": "", "minutes": 9.0, "cost": "from now on $2.30/h"},
    ]
    placed = {"region": "us-east4", "machine_type": "g2-standard-24", "spot": False}
    script[-1].parameters["place-and-deploy"] = {"placement": json.dumps(placed), "attempts": json.dumps(attempts)}
    pipelines(standin).script = script
    run = _run_file(tmp_path, teardown_policy="on_failure",
                    placements=[{"region": "us-central1"}, {"region": "us-east4", "machine_type": "g2-standard-24"}])
    result = _submit(standin, run, "--wait")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "placement: 2. us-east4 g2-standard-24 2× NVIDIA_L4 (2 attempts)" in out
    assert ("  1. us-central1 g2-standard-12 1× NVIDIA_L4: stockout after 12.5 min (no replica served: nothing "
            "billed for GPUs): deploy failed: Machine type temporarily unavailable") in out
    assert "  cost: $2.30/h (estimate: Compute Engine × 1.15" in out  # the machine it landed on, not the run's
    assert "--region us-central1 --also-in us-east4" in out


def test_the_openai_snippet_runs_against_the_endpoint(standin, on_failure_run, monkeypatch):
    """The printed snippet, with the stand-in's URL and a test token, answers a chat question."""
    import google.auth

    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    out = _submit(standin, on_failure_run, "--wait").output
    lines = out.split("  call it with the openai SDK:\n", 1)[1].splitlines()
    code = "\n".join(line[4:] for line in lines if line.startswith("    "))
    code = code.replace("https://us-central1-aiplatform.googleapis.com", standin.url)

    class Creds:
        token = "test-token"

        def refresh(self, _request):
            pass

    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (Creds(), PROJECT))
    printed = []
    exec(compile(code, "snippet", "exec"), {"print": printed.append})  # noqa: S102 - the user's paste, verbatim
    assert printed and printed[0].strip()


def test_always_policy_says_nothing_is_left(standin):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    result = _submit(standin, TEXT, "--wait")
    assert result.exit_code == 0, result.output
    assert "removed: nothing left serving (teardown_policy always)" in result.output
    assert "KEPT" not in result.output and "smoke it again" not in result.output


def test_follow_shows_each_deploy_stage_as_it_happens(standin, monkeypatch):
    endpoint = deploy(standin)
    op = next(o for o in standin.state.operations.values() if "deploymentStage" in o.metadata)
    stages = iter(["STARTING_DEPLOYMENT", "STARTING_MODEL_SERVER", "STARTING_MODEL_SERVER", "SUCCESSFULLY_DEPLOYED"])

    def advance():
        stage = next(stages, "SUCCESSFULLY_DEPLOYED")
        with standin.state.lock:
            op.metadata["deploymentStage"] = stage
            op.finished = stage == "SUCCESSFULLY_DEPLOYED"

    def pause(_seconds):  # between two polls that show place-and-deploy running, the deploy moves on
        name, shown = next(iter(pipelines(standin).shown.items()), (None, None))
        if name is not None:  # the step's endpoint carries the run's label (its artifact comes at the end)
            with standin.state.lock:
                standin.state.endpoints[endpoint.name]["labels"]["vllm-vertex-run"] = naming.run_label_value(name)
        if shown is not None and shown.tasks.get("place-and-deploy") == "RUNNING":
            advance()

    advance()
    monkeypatch.setattr(jobs, "_pause", pause)
    pipelines(standin).script = run_script(endpoint=endpoint.name, deploy_frames=4)
    result = _submit(standin, TEXT, "--wait")
    assert result.exit_code == 0, result.output
    lines = [line.split("] ", 1)[-1] for line in result.output.splitlines()]
    shown = [line for line in lines if line.startswith("place-and-deploy: stage ")]
    assert shown == [
        "place-and-deploy: stage STARTING_DEPLOYMENT",
        "place-and-deploy: stage STARTING_MODEL_SERVER",
        "place-and-deploy: stage SUCCESSFULLY_DEPLOYED",
    ]
    assert lines.index("place-and-deploy: RUNNING") < lines.index(shown[0]) < lines.index("smoke-test: RUNNING")


def test_ctrl_c_then_follow_reattaches(standin, monkeypatch):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    monkeypatch.setattr(jobs, "_pause", lambda _s: (_ for _ in ()).throw(KeyboardInterrupt))
    first = _submit(standin, TEXT, "--wait", input="n\n")
    name = next(iter(pipelines(standin).jobs))
    assert first.exit_code == 130 and f"reattach with: vllm-vertex follow {name}" in first.output
    monkeypatch.undo()
    again = invoke(standin, "follow", name, "--poll-seconds", "0")
    assert again.exit_code == 0, again.output
    assert "run: SUCCEEDED" in again.output and "smoke tests: passed" in again.output
    run_id, project = name.rsplit("/", 1)[-1], name.split("/")[1]
    console = f"https://console.cloud.google.com/vertex-ai/locations/us-central1/pipelines/runs/{run_id}?project={project}"
    assert invoke(standin, "follow", console, "--poll-seconds", "0").exit_code == 0  # the console URL works too


def test_status_while_running_and_when_done(standin, google_at):
    google_at(standin.url)
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    name = json.loads(_submit(standin, TEXT, "--json").stdout)["name"]
    run_id = name.rsplit("/", 1)[-1]
    running = invoke(standin, "status", run_id, *WHERE)  # first frame: PENDING
    assert running.exit_code == 3 and running.output.startswith(f"{name}: PENDING")
    while jobs.get(name).state.name != "PIPELINE_STATE_SUCCEEDED":
        pass
    done = invoke(standin, "status", name)
    assert done.exit_code == 0, done.output
    assert "  place-and-deploy: SUCCEEDED (stage SUCCESSFULLY_DEPLOYED)" in done.output
    assert "smoke tests: passed" in done.output and "removed: nothing left serving" in done.output
    data = json.loads(invoke(standin, "status", name, "--json").stdout)
    assert data["state"] == "SUCCEEDED" and data["ok"] is True and data["kept"] is False
    assert data["tasks"]["smoke-test"] == "SUCCEEDED" and data["deploy_stage"] == "SUCCESSFULLY_DEPLOYED"
    assert data["endpoint"] == endpoint.name and data["figures"]["checks_passed"] == 3


def test_failed_run_status_exits_1(standin, google_at):
    google_at(standin.url)
    pipelines(standin).script = run_script(fail_at="place-and-deploy")
    name = json.loads(_submit(standin, TEXT, "--json").stdout)["name"]
    while jobs.get(name).state.name != "PIPELINE_STATE_FAILED":
        pass
    result = invoke(standin, "status", name)
    assert result.exit_code == 1 and "run FAILED" in result.output and "smoke tests: did not run" in result.output


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["not a run"], "is not a run"),
        (["vllm-deploy-and-verify-123"], "needs the project and region"),
    ],
)
def test_status_and_follow_bad_run_exit_2_and_send_nothing(standin, args, text):
    for command in ("status", "follow"):
        result = invoke(standin, command, *args)
        assert result.exit_code == 2 and text in result.output
    assert standin.requests == []


def test_submit_json(standin, on_failure_run):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    quick = json.loads(_submit(standin, TEXT, "--json").stdout)
    assert set(quick) == {"name", "console", "run_label"} and quick["name"].startswith("projects/")
    waited = _submit(standin, on_failure_run, "--wait", "--json")
    assert waited.exit_code == 0
    data = json.loads(waited.stdout)  # progress went to stderr
    assert data["ok"] is True and data["kept"] is True and data["verdict"] == "passed"
    assert data["teardown_command"].startswith(f"vllm-vertex teardown --run-label {data['run_label']}")
    assert data["smoke_command"] == f"vllm-vertex smoke {endpoint.name}" and data["submitted"]["name"] == data["name"]
    assert data["usd_per_hour"] == pytest.approx(1.1505)  # the table's estimate


def test_schedule_list_json(standin):
    assert invoke(standin, "schedule", "create", TEXT).exit_code == 0
    rows = json.loads(invoke(standin, "schedule", "list", *WHERE, "--json").stdout)
    assert len(rows) == 1 and rows[0]["state"] == "ACTIVE" and rows[0]["cron"] == "TZ=Etc/UTC 0 3 * * *"
    assert rows[0]["max_concurrent_run_count"] == 1


# --- the kept deployment's hourly price, read from the Cloud Billing Catalog at the end of the run --------------

def _catalog_calls(standin) -> list[str]:
    """Paths of the Cloud Billing Catalog requests the stand-in saw (services.list, services.skus.list)."""
    return [path for _, path, _ in standin.requests if path.startswith("/v1/services")]


def _today() -> str:
    return datetime.datetime.now(datetime.UTC).date().isoformat()


LIVE_SOURCE = f"Cloud Billing Catalog API, services/{catalog_data.VERTEX_SERVICE}, read "
G2_12_SKUS = [catalog_data.PRICED[k]["skuId"] for k in ("G2-CORE", "G2-RAM", "L4")]


def test_kept_deployment_is_priced_from_the_catalogue_text(standin, tmp_path):
    """Two replicas of g2-standard-12: 12 × 0.0282 + 48 × 0.0033 + 0.644 = 1.1408 USD a node hour, twice."""
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    run = _run_file(tmp_path, teardown_policy="on_failure", min_replica_count=2, max_replica_count=2)
    result = _submit(standin, run, "--wait")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    cost = next(line for line in lines if line.startswith("  cost: "))
    assert cost == ("  cost: $2.28/h (live: Vertex AI prediction, on-demand list "
                    f"price in us-central1; {LIVE_SOURCE}{_today()}) for 2 replica(s) of g2-standard-12")
    assert lines.index(cost) == lines.index(next(x for x in lines if x.startswith("KEPT"))) + 1
    assert not any(line.startswith("  live price not read") for line in lines)
    assert "reading the kept deployment's hourly price from the Cloud Billing Catalog API" in result.output
    # one read: the service list, then the Vertex AI service's SKUs (one page each)
    assert [r[0] for r in standin.billing.page_requests] == ["services", f"skus:{catalog_data.VERTEX_SERVICE}"]


def test_kept_deployment_live_price_in_json_keeps_the_other_keys(standin, on_failure_run):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    live = json.loads(_submit(standin, on_failure_run, "--wait", "--json").stdout)
    standin.requests.clear()
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    table = json.loads(_submit(standin, on_failure_run, "--wait", "--json", "--no-live-prices").stdout)
    assert _catalog_calls(standin) == []
    assert set(live) == set(table) and "live_price" in live  # the one new key, present either way
    assert table["live_price"] is None
    assert live["usd_per_hour"] == table["usd_per_hour"] == pytest.approx(1.1505)  # the built-in table's figure
    price = live["live_price"]
    assert price["usd_per_hour"] == pytest.approx(1.1408) and price["usd_per_node_hour"] == pytest.approx(1.1408)
    assert price["replicas"] == 1 and price["region"] == "us-central1" and price["problem"] == ""
    assert price["source"] == LIVE_SOURCE + _today() and price["sku_ids"] == G2_12_SKUS
    per_run = {"submitted", "name", "run_label", "console", "teardown_command", "live_price"}
    assert {k: v for k, v in live.items() if k not in per_run} == {k: v for k, v in table.items() if k not in per_run}
    assert live["kept"] is table["kept"] is True and live["ok"] is table["ok"] is True


def test_catalogue_disabled_keeps_the_table_price_with_the_reason_and_the_fix(standin, on_failure_run):
    from tests.test_pricing_catalog import DISABLED_TEXT, SERVICE_DISABLED

    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    standin.faults.add("cloudbilling.services.list", status=403, details=SERVICE_DISABLED, message=DISABLED_TEXT,
                       times=None)
    result = _submit(standin, on_failure_run, "--wait")
    assert result.exit_code == 0, result.output  # the run passed: a price never changes that
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    from vllm_vertex import pricing

    assert f"  cost: {pricing.rate_for('g2-standard-12').text()}" in lines
    assert "  live price not read: the cloudbilling.googleapis.com API (Cloud Billing) is not enabled in project " \
           "my-quota-project, the project your credentials bill API calls to, so live prices cannot be read. Enable " \
           "it: gcloud services enable cloudbilling.googleapis.com --project=my-quota-project (it takes a minute), or " \
           "pass --no-live-prices to skip this lookup." in lines
    assert lines[-1].startswith("  remove it: vllm-vertex teardown --run-label ")
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    waited = _submit(standin, on_failure_run, "--wait", "--json")
    assert waited.exit_code == 0
    data = json.loads(waited.stdout)
    assert data["live_price"]["usd_per_hour"] is None and data["live_price"]["source"] == ""
    assert "gcloud services enable cloudbilling.googleapis.com --project=my-quota-project" in data["live_price"]["problem"]


@pytest.mark.parametrize("break_it, reason", [
    (lambda s: s.billing.set_skus(catalog_data.VERTEX_SERVICE, [x for x in catalog_data.default_catalog()["skus"][
        catalog_data.VERTEX_SERVICE] if x["skuId"] != catalog_data.PRICED["L4"]["skuId"]]),
     "no live price for g2-standard-12 in us-central1 from the Cloud Billing Catalog (services/C7E2-9256-1C43, "),
    (lambda s: s.faults.add("cloudbilling.services.skus.list", status=400, message="Invalid currency."),
     "the Cloud Billing Catalog API could not be read (BadRequest: 400 "),
])
def test_no_matching_sku_or_a_google_error_keeps_the_table_price_and_the_exit_code(standin, tmp_path, break_it, reason):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name, verdict="failed")  # a failed run: exit 1 stays 1
    break_it(standin)
    result = _submit(standin, _run_file(tmp_path, teardown_policy="never"), "--wait")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "  cost: $1.15/h (estimate: Compute Engine × 1.15" in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("  live price not read: ")]
    assert line.removeprefix("  live price not read: ").startswith(reason)


@pytest.mark.parametrize("policy, script", [
    ("always", {}),  # removed after passing
    ("on_failure", {"verdict": "failed"}),  # removed because the smoke tests failed
    ("on_failure", {"fail_at": "place-and-deploy"}),  # no deployment reached
])
def test_nothing_kept_makes_no_catalogue_request(standin, tmp_path, policy, script):
    endpoint = deploy(standin)
    standin.requests.clear()
    pipelines(standin).script = run_script(endpoint=endpoint.name, **script)
    result = _submit(standin, _run_file(tmp_path, teardown_policy=policy), "--wait")
    assert "KEPT" not in result.output and "Cloud Billing" not in result.output
    assert _catalog_calls(standin) == [] and standin.billing.page_requests == []


def test_spot_deployment_is_not_priced_from_on_demand_skus(standin, tmp_path):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    result = _submit(standin, _run_file(tmp_path, teardown_policy="on_failure", spot=True), "--wait")
    assert result.exit_code == 0 and "  cost: unknown for spot VMs (1 replica(s) of g2-standard-12)" in result.output
    assert standin.billing.page_requests == []


def test_opt_out_makes_no_catalogue_request_on_submit_and_follow(standin, on_failure_run):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    result = _submit(standin, on_failure_run, "--wait", "--no-live-prices")
    assert result.exit_code == 0, result.output
    assert "  cost: $1.15/h (estimate: Compute Engine × 1.15" in result.output
    assert "live price" not in result.output and "Cloud Billing" not in result.output
    name = next(iter(pipelines(standin).jobs))
    again = invoke(standin, "follow", name, "--poll-seconds", "0", "--no-live-prices")
    assert again.exit_code == 0 and "  cost: $1.15/h (estimate: Compute Engine × 1.15" in again.output
    assert _catalog_calls(standin) == [] and standin.billing.page_requests == []
    followed = invoke(standin, "follow", name, "--poll-seconds", "0")  # follow shares the finish: priced by default
    assert followed.exit_code == 0 and "  cost: $1.14/h (live: " in followed.output
    assert len(standin.billing.page_requests) == 2


def test_run_outcome_prices_replicas_from_the_catalogue_rate():
    """Pure: the catalogue's node price times the replicas billed, with its source; or the reason."""
    kept = RunOutcome("SUCCEEDED", "passed", name="projects/p/locations/europe-west4/pipelineJobs/x",
                      endpoint="projects/p/locations/europe-west4/endpoints/9", teardown_policy="never",
                      machine_type="g2-standard-96", replicas=3)
    assert kept.region == "europe-west4" and kept.wants_live_price
    kept.live_price = CatalogRate("europe-west4", 9.1296, "Cloud Billing Catalog API, services/S, read 2026-11-27")
    assert kept.live_usd_per_hour == pytest.approx(27.3888)
    assert "  cost: $27.39/h (live: Vertex AI prediction, on-demand list price " \
           "in europe-west4; Cloud Billing Catalog API, services/S, read 2026-11-27) for 3 replica(s) of g2-standard-96" \
           in kept.lines()
    kept.live_price = CatalogRate("europe-west4", problem="why, and the fix")
    assert kept.live_usd_per_hour is None and "  live price not read: why, and the fix" in kept.lines()
    assert kept.to_dict()["live_price"]["problem"] == "why, and the fix"
    not_kept = RunOutcome("SUCCEEDED", "passed", endpoint=kept.endpoint, teardown_policy="always",
                          machine_type="g2-standard-96")
    assert not not_kept.wants_live_price and not_kept.to_dict()["live_price"] is None
