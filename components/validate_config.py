"""Step 1: validate the run's parameters before anything is created."""

from typing import NamedTuple

from components._runtime import vllm_component


@vllm_component()
def validate_config(
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
    job_resource_name: str,
) -> NamedTuple("Outputs", [("config", str), ("run_label", str)]):
    """Checks every parameter with the rules ``compile.py`` applies and emits the run's config.

    Args:
        project: Google Cloud project ID that owns the endpoint.
        location: Vertex AI region.
        model_id: Hugging Face repo id or gs:// folder.
        multimodal: The model takes images as well as text.
        serving_image: vLLM serving container image.
        allow_custom_serving_image: Allow an image outside Google's serving repository (gets the HF token).
        machine_type: Machine type of one replica.
        accelerator_type: GPU type.
        accelerator_count: GPUs per replica (= tensor parallel size).
        min_replica_count: Minimum replicas.
        max_replica_count: Maximum replicas (quota is charged for these).
        spot: Deploy on spot VMs.
        service_account: Service account the deployed model runs as (empty: Vertex's default).
        dedicated_endpoint: Create a dedicated endpoint (own DNS, streaming, 1 h timeout).
        gpu_memory_utilization: vLLM --gpu-memory-utilization, in (0, 1].
        max_model_len: vLLM --max-model-len.
        max_num_seqs: vLLM --max-num-seqs.
        dtype: vLLM --dtype.
        swap_space_gib: vLLM --swap-space (CPU swap per GPU, GiB).
        max_loras: vLLM --max-loras.
        max_cpu_loras: vLLM --max-cpu-loras.
        enforce_eager: vLLM --enforce-eager.
        trust_remote_code: vLLM --trust-remote-code.
        enable_lora: vLLM --enable-lora.
        enable_prefix_caching: vLLM --enable-prefix-caching.
        enable_chunked_prefill: vLLM --enable-chunked-prefill.
        model_type: Google container's --model-type (e.g. llama3.1), empty for none.
        chat_template: vLLM --chat-template, empty for the tokenizer's own.
        extra_vllm_args: More vLLM flags, each "--flag=value".
        hf_token_secret: Secret Manager version holding the HF token, or empty.
        labels: Labels for every created resource.
        teardown_policy: always | on_failure | never.
        deploy_timeout_seconds: How long to wait for the deploy.
        block_on_plan_risk: Preflight fails (not only warns) when the capacity plan is "at risk".
        run_image_checks: Run the image+text checks.
        run_chat_checks: Run the OpenAI chat-completions checks.
        smoke_prompt: Prompt of the text checks.
        smoke_image_url: Image of the image checks.
        smoke_image_prompt: Predict-route prompt of the image check.
        smoke_max_tokens: Tokens per smoke check.
        probe_profile: Load probe after the smoke tests: off, quick, standard or capacity.
        probe_slo: SLO thresholds of the probe, key=value,...; empty for no gate.
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
