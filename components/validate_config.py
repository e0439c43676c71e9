"""Step 1: validate the run's parameters before anything is created.

The step runs this function's source text, so its parameters are spelled out: ``make generate``
writes them and their descriptions from their one declaration (``vllm_vertex.config.DeploymentConfig``).
"""

from typing import NamedTuple

from components._runtime import vllm_component


@vllm_component()
def validate_config(
    # Generated from vllm_vertex.config.DeploymentConfig by `make generate`: do not edit.
    project: str,
    location: str,
    model_id: str,
    model_revision: str,
    stage_weights_to: str,
    multimodal: bool,
    serving_image: str,
    allow_custom_serving_image: bool,
    machine_type: str,
    accelerator_type: str,
    accelerator_count: int,
    min_replica_count: int,
    max_replica_count: int,
    spot: bool,
    reservation_affinity: str,
    reservation_name: str,
    flex_start_hours: int,
    required_replica_count: int,
    placements: list,
    placement_timeout_seconds: int,
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
    keep_for_hours: int,
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
    # End of generated parameters.
    job_resource_name: str,
) -> NamedTuple("Outputs", [("config", str), ("run_label", str)]):
    """Checks every parameter with the rules ``compile.py`` applies and emits the run's config.

    Args:
        project: Google Cloud project ID that owns the endpoint and model.
        location: Vertex AI region, e.g. us-central1.
        model_id: Hugging Face repo id (org/name) or a gs:// folder with the weights.
        model_revision: Hugging Face revision to deploy: a branch, tag or commit; empty for the repo's default branch.
            The run records the commit it resolved to.
        stage_weights_to: gs://bucket/prefix to stage the weights in before the upload (recommended): the Model then
            loads them from Cloud Storage, with no HF token in its environment. Empty: the container downloads from the
            Hub.
        multimodal: The model takes images as well as text (Llama 3.2 Vision).
        serving_image: Google's vLLM serving container image (Vision presets keep an older tag).
        allow_custom_serving_image: Allow a serving_image outside Google's vLLM serving repository (it receives the HF
            token in its environment).
        machine_type: Machine type of one replica, e.g. g2-standard-12.
        accelerator_type: GPU type, e.g. NVIDIA_L4; must be the one the machine type carries.
        accelerator_count: GPUs per replica; also vLLM's tensor parallel size.
        min_replica_count: Minimum number of replicas.
        max_replica_count: Maximum number of replicas; quota is charged for these.
        spot: Deploy on spot VMs (checked against the Preemptible GPU quota).
        reservation_affinity: Which Compute Engine reservations the replicas may consume: any, specific
            (reservation_name) or none; empty: Vertex's default.
        reservation_name: The reservation of reservation_affinity specific: projects/P/zones/Z/reservations/R.
        flex_start_hours: Deploy with flex-start (Dynamic Workload Scheduler): GPUs for at most this many hours; 0: off.
        required_replica_count: The deploy succeeds once this many replicas are up (Vertex's requiredReplicaCount); 0:
            all of min_replica_count.
        placements: Fallback placements tried in order when GPUs run out (stockout, or quota gone since the check). Each
            overrides only the keys it names: region, machine_type, accelerator_type, accelerator_count, spot,
            reservation, reservation_affinity, flex_start_hours. Empty: only the fields above.
        placement_timeout_seconds: How long all placements together may take, cleanups included; each attempt is also
            bounded by deploy_timeout_seconds.
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
        hf_token_secret: Secret Manager version of the Hugging Face token, projects/P/secrets/S/versions/V; empty for
            public or gs:// models. Never the token.
        labels: Labels added to every created resource.
        teardown_policy: always (delete after the smoke tests), on_failure (keep a passing deployment, delete otherwise)
            or never (keep everything).
        keep_for_hours: Hours a kept deployment may live: its endpoint gets the label vllm-vertex-keep-until=<epoch
            seconds> and `vllm-vertex teardown --expired` removes it after that; 0: no limit.
        deploy_timeout_seconds: How long to wait for the deploy before failing.
        block_on_plan_risk: Preflight fails when the capacity plan is "at risk" (max_model_len within the planner's
            error band of the predicted KV cache); false only warns.
        run_image_checks: Run the image+text checks (multimodal models only).
        run_chat_checks: Run the OpenAI chat-completions checks (needs a chat template).
        smoke_prompt: Prompt of the text checks.
        smoke_image_url: Image URL of the image checks.
        smoke_image_prompt: Predict-route prompt of the image check.
        smoke_max_tokens: Tokens generated per smoke check.
        probe_profile: Load probe after smoke tests that passed: off, quick (about 1 min), standard (about 5 min) or
            capacity (standard levels and a search for the highest concurrency within the SLO).
        probe_slo: SLO of the probe, key=value pairs separated by commas, e.g.
            p95_ttft_ms=500,p95_tpot_ms=50,max_error_rate=0.01; a miss fails the run after the report is written. Empty:
            measure without a gate.
        job_resource_name: The pipeline job's full resource name; the run label derives from it.

    Returns:
        config: The validated configuration as JSON, input of every later step.
        run_label: Value of the ``vllm-vertex-run`` label every created resource carries.
    """
    fields = dict(locals())
    from collections import namedtuple

    from vllm_vertex import configfile, naming
    from vllm_vertex.config import warnings

    fields.pop("job_resource_name")
    fields["region"] = fields.pop("location")
    cfg = configfile.from_console(fields)
    print(f"configuration valid: {cfg.model_id} on {cfg.accelerator_count}x {cfg.accelerator_type}")
    for line in warnings(cfg):
        print(line)
    return namedtuple("Outputs", ["config", "run_label"])(cfg.to_json(), naming.run_label_value(job_resource_name))
