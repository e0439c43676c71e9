"""The deploy-and-verify pipeline: validate → quota → upload + endpoint → deploy → smoke → probe → teardown.

Parameters have no Python defaults: ``pipelines.compile_pipeline`` fills them from a preset
(``DeploymentConfig``), so the compiled YAML shows real values in the console and the preset
tables live in one place (``vllm_vertex.recipes``).
"""

from kfp import dsl

from components import (
    check_probe,
    check_quota,
    check_verdict,
    cleanup_on_exit,
    create_endpoint,
    deploy_model,
    preflight,
    probe,
    smoke_test,
    teardown,
    upload_model,
    validate_config,
)
from pipelines.variants import TEST_HOOKS, hooks, production_and_test_variants

PIPELINE_NAME = "vllm-deploy-and-verify"


def _side_effect(task: dsl.PipelineTask, name: str) -> dsl.PipelineTask:
    """Display name, and no caching: a cached step would skip creating or deleting."""
    return task.set_display_name(name).set_caching_options(False)


def _teardown_branches(project, location, run_label, teardown_policy, probe_profile, smoke, api: dict) -> None:
    """``always``: tear down after the smoke tests (after the probe when it is on, see ``_probe_branch``);
    ``on_failure``: only when they failed."""
    with dsl.If(teardown_policy == "always", name="policy-always"):
        with dsl.If(probe_profile == "off", name="probe-off"):
            task = teardown(project=project, location=location, run_label=run_label, **api)
            _side_effect(task.after(smoke), "teardown")
    with dsl.If(teardown_policy == "on_failure", name="policy-on-failure"):
        with dsl.If(smoke.outputs["verdict"] == "failed", name="smoke-failed"):
            task = teardown(project=project, location=location, run_label=run_label, **api)
            _side_effect(task, "teardown-after-failed-smoke")


def _probe_branch(project, location, run_label, teardown_policy, config, endpoint, smoke, api: dict) -> None:
    """The load probe (it skips itself when the smoke tests failed), its gate, and ``always``'s teardown after it.

    A missed SLO fails the gate after the report is written; the exit handler then removes the
    deployment under ``on_failure``.
    """
    measured = probe(config=config, endpoint=endpoint, smoke_verdict=smoke.outputs["verdict"], **api)
    _side_effect(measured.after(smoke), "probe")
    gate = check_probe(verdict=measured.outputs["verdict"], summary=measured.outputs["summary"])
    _side_effect(gate, "check-probe")
    with dsl.If(teardown_policy == "always", name="policy-always-after-probe"):
        task = teardown(project=project, location=location, run_label=run_label, **api)
        _side_effect(task.after(measured), "teardown-after-probe")


def _deploy_and_verify(
    project: str,
    location: str,
    model_id: str,
    multimodal: bool,
    serving_image: str,
    allow_custom_serving_image: bool,
    machine_type: str,
    accelerator_type: str,
    accelerator_count: int,
    min_replica_count: int,
    max_replica_count: int,
    spot: bool,
    service_account: str,
    dedicated_endpoint: bool,
    gpu_memory_utilization: float,
    max_model_len: int,
    max_num_seqs: int,
    dtype: str,
    swap_space_gib: int,
    max_loras: int,
    max_cpu_loras: int,
    enforce_eager: bool,
    trust_remote_code: bool,
    enable_lora: bool,
    enable_prefix_caching: bool,
    enable_chunked_prefill: bool,
    model_type: str,
    chat_template: str,
    extra_vllm_args: list,
    hf_token_secret: str,
    labels: dict,
    teardown_policy: str,
    deploy_timeout_seconds: int,
    block_on_plan_risk: bool,
    run_image_checks: bool,
    run_chat_checks: bool,
    smoke_prompt: str,
    smoke_image_url: str,
    smoke_image_prompt: str,
    smoke_max_tokens: int,
    probe_profile: str,
    probe_slo: str,
    api_endpoint: str = "",
    hf_endpoint: str = "",
):
    """Deploys an open LLM to a Vertex AI endpoint with vLLM, smoke-tests it and tears it down.

    Args:
        project: Google Cloud project ID that owns the endpoint and model.
        location: Vertex AI region, e.g. us-central1.
        model_id: Hugging Face repo id (org/name) or a gs:// folder with the weights.
        multimodal: The model takes images as well as text (Llama 3.2 Vision).
        serving_image: Google's vLLM serving container image (Vision presets keep an older tag).
        allow_custom_serving_image: Allow a serving_image outside Google's vLLM serving repository (it
            receives the HF token in its environment).
        machine_type: Machine type of one replica, e.g. g2-standard-12.
        accelerator_type: GPU type, e.g. NVIDIA_L4; must be the one the machine type carries.
        accelerator_count: GPUs per replica; also vLLM's tensor parallel size.
        min_replica_count: Minimum number of replicas.
        max_replica_count: Maximum number of replicas; quota is charged for these.
        spot: Deploy on spot VMs (checked against the Preemptible GPU quota).
        service_account: Service account the deployed model runs as; empty for Vertex's default.
        dedicated_endpoint: Create a dedicated endpoint (own DNS, streaming, longer timeouts).
        gpu_memory_utilization: Fraction of GPU memory vLLM may use, in (0, 1].
        max_model_len: Longest sequence (prompt + output) vLLM serves.
        max_num_seqs: Most sequences vLLM batches at once (12 for Llama 3.2 Vision).
        dtype: Weights dtype: auto, bfloat16, float16 or float32.
        swap_space_gib: CPU swap space per GPU, GiB.
        max_loras: Most LoRA adapters in one batch.
        max_cpu_loras: Most LoRA adapters kept in CPU memory.
        enforce_eager: Disable CUDA graphs (less memory, slower decoding).
        trust_remote_code: Let vLLM run the model repo's own code.
        enable_lora: Serve LoRA adapters (the container's dynamic-lora).
        enable_prefix_caching: Reuse the KV cache of shared prompt prefixes.
        enable_chunked_prefill: Split long prefills into chunks.
        model_type: Google container's --model-type (e.g. llama3.1); empty for none.
        chat_template: vLLM --chat-template for tokenizers without one; empty for the tokenizer's.
        extra_vllm_args: More vLLM flags, each "--flag=value"; fields above may not be repeated.
        hf_token_secret: Secret Manager version of the Hugging Face token,
            projects/P/secrets/S/versions/V; empty for public or gs:// models. Never the token.
        labels: Labels added to every created resource.
        teardown_policy: always (delete after the smoke tests), on_failure (keep a passing
            deployment, delete otherwise) or never (keep everything).
        deploy_timeout_seconds: How long to wait for the deploy before failing.
        block_on_plan_risk: Preflight fails when the capacity plan is "at risk" (max_model_len within the
            planner's error band of the predicted KV cache); false only warns.
        run_image_checks: Run the image+text checks (multimodal models only).
        run_chat_checks: Run the OpenAI chat-completions checks (needs a chat template).
        smoke_prompt: Prompt of the text checks.
        smoke_image_url: Image URL of the image checks.
        smoke_image_prompt: Predict-route prompt of the image check.
        smoke_max_tokens: Tokens generated per smoke check.
        probe_profile: Load probe after smoke tests that passed: off, quick (about 1 min),
            standard (about 5 min) or capacity (standard levels and a search for the highest
            concurrency within the SLO).
        probe_slo: SLO of the probe, key=value pairs separated by commas, e.g.
            p95_ttft_ms=500,p95_tpot_ms=50,max_error_rate=0.01; a miss fails the run after the
            report is written. Empty: measure without a gate.
        api_endpoint: Test variant only: base URL that replaces every Google API.
        hf_endpoint: Test variant only: base URL that replaces the Hugging Face Hub.
    """
    params = {k: v for k, v in locals().items() if k not in TEST_HOOKS}
    api, hub = hooks(api_endpoint=api_endpoint), hooks(hf_endpoint=hf_endpoint)
    cleanup = cleanup_on_exit(
        project=project,
        location=location,
        job_resource_name=dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER,
        teardown_policy=teardown_policy,
        **api,
    )
    _side_effect(cleanup, "cleanup-on-exit")
    with dsl.ExitHandler(cleanup, name="deploy-and-verify"):
        validated = validate_config(**params, job_resource_name=dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER)
        _side_effect(validated, "validate-config")
        config, run_label = validated.outputs["config"], validated.outputs["run_label"]
        quota = _side_effect(check_quota(config=config, **api), "check-quota")
        checked = preflight(config=config, **api, **hub)
        _side_effect(checked.after(quota), "preflight")
        model = upload_model(config=config, run_label=run_label, **api).after(checked)
        endpoint = create_endpoint(config=config, run_label=run_label, **api).after(checked)
        _side_effect(model, "upload-model")
        _side_effect(endpoint, "create-endpoint")
        deployed = deploy_model(
            config=config,
            run_label=run_label,
            model=model.outputs["model"],
            endpoint=endpoint.outputs["endpoint"],
            **api,
        )
        _side_effect(deployed, "deploy-model")
        smoke = smoke_test(config=config, endpoint=endpoint.outputs["endpoint"], **api)
        _side_effect(smoke.after(deployed), "smoke-test")
        _teardown_branches(project, location, run_label, teardown_policy, probe_profile, smoke, api)
        with dsl.If(probe_profile != "off", name="probe-on"):
            where = (project, location, run_label, teardown_policy)
            _probe_branch(*where, config, endpoint.outputs["endpoint"], smoke, api)
        gate = check_verdict(
            verdict=smoke.outputs["verdict"], passed=smoke.outputs["passed"], failed=smoke.outputs["failed"],
            failures=smoke.outputs["failures"],
        )
        _side_effect(gate, "check-verdict")


# The console's pipeline (no test hooks) and the offline tier's (api_endpoint, hf_endpoint).
deploy_and_verify, deploy_and_verify_for_tests = production_and_test_variants(_deploy_and_verify, PIPELINE_NAME)
