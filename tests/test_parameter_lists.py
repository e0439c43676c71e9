"""Each pipeline parameter is declared once (``DeploymentConfig``); everything that lists them is generated.

These tests hold the generated forms to the declaration: the pipelines' signatures and docstrings
(built at import), the steps' parameter lists and the README table and JSON Schema (``make generate``),
and the compiled YAML read back into the PipelineSpec proto.
"""

import dataclasses
import inspect
import json
import pathlib
import typing

import docstring_parser
import jsonschema
import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import components
import scripts.generate as gen
from components import read_endpoint, validate_config
from pipelines import canary, compile_pipeline, deploy_and_verify
from vllm_vertex import config, configfile, recipes
from vllm_vertex.parameters import PARAMETERS, SMOKE, by_name

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAMES = [p.name for p in PARAMETERS]
HOOKS = ["api_endpoint", "hf_endpoint"]  # the former test hooks: the override is the environment's now
KFP_TYPES = {str: "STRING", int: "NUMBER_INTEGER", float: "NUMBER_DOUBLE", bool: "BOOLEAN", list: "LIST",
             dict: "STRUCT"}  # fmt: skip


def _signature(component) -> inspect.Signature:
    return inspect.signature(getattr(component, "python_func", None) or component.pipeline_func)


def _described(func) -> dict[str, str]:
    """Each documented argument's description, whitespace made single spaces (the steps' are wrapped)."""
    return {p.arg_name: " ".join(p.description.split()) for p in docstring_parser.parse(inspect.getdoc(func)).params}


def test_the_declaration_covers_every_config_field_with_a_description_and_a_closed_set_where_there_is_one():
    assert [p.field for p in PARAMETERS] == [f.name for f in dataclasses.fields(config.DeploymentConfig)]
    assert len(PARAMETERS) == 51 and all(p.help.endswith(".") for p in PARAMETERS)
    assert by_name("location").field == "region"
    closed = {p.name: p.choices for p in PARAMETERS if p.choices}
    assert closed["teardown_policy"] == config.TEARDOWN_POLICIES == ("always", "on_failure", "never")
    assert closed["dtype"] == config.DTYPES
    assert set(closed) == {
        "location", "machine_type", "accelerator_type", "dtype", "teardown_policy", "probe_profile",
        "reservation_affinity",
    }
    assert dataclasses.asdict(config.DeploymentConfig())["max_model_len"] == by_name("max_model_len").default == 4096


def test_probe_profiles_are_the_probes_own():
    from vllm_vertex.probe.workload import PROFILES

    assert typing.get_args(config.ProbeProfile) == ("off", *PROFILES)


@pytest.mark.parametrize("name", ["teardown_policy", "probe_profile", "dtype"])
def test_every_choice_of_a_closed_set_passes_validation_and_another_value_does_not(name):
    base = {"project": "my-project", "probe_slo": "p95_ttft_ms=500"}
    for choice in by_name(name).choices:
        config.validate(config.from_preset("llama-3.1-8b-instruct", **base, **{name: choice}))
    with pytest.raises(config.ConfigError, match=name):
        config.validate(config.from_preset("llama-3.1-8b-instruct", **base, **{name: "sometimes"}))


def test_closed_sets_stay_plain_strings_in_json_round_trips():
    cfg = config.from_preset("llama-3.1-8b-instruct", teardown_policy="always", probe_profile="quick")
    assert json.loads(cfg.to_json())["teardown_policy"] == "always"
    assert config.DeploymentConfig.from_json(cfg.to_json()) == cfg


def test_pipeline_signatures_are_the_declaration():
    production = _signature(deploy_and_verify).parameters
    assert list(production) == NAMES
    assert [p.annotation for p in production.values()] == [p.type for p in PARAMETERS]
    assert all(p.default is inspect.Parameter.empty for p in production.values())  # defaults come from a preset
    assert list(_signature(canary).parameters) == [*SMOKE, "endpoint"]


def test_no_pipeline_or_step_takes_a_hook():
    """The stand-in override is the environment's (``cloud.context``): no pipeline or step parameter carries it."""
    assert not set(HOOKS) & set(_signature(deploy_and_verify).parameters)
    assert not set(HOOKS) & set(_signature(canary).parameters)
    steps = [getattr(components, name) for name in components.__all__]
    assert len(steps) >= 11  # upload, endpoint and deploy are one step since issue 21
    for step in steps:
        assert not set(HOOKS) & set(_signature(step).parameters), step.name


def test_pipeline_docstrings_give_the_declared_descriptions():
    for pipeline, names in ((deploy_and_verify, NAMES), (canary, SMOKE)):
        described = _described(pipeline.pipeline_func)
        assert {n: described[n] for n in names} == {n: by_name(n).help for n in names}
        assert not set(HOOKS) & set(described)  # the test hooks: never in the console's form


@pytest.mark.parametrize(("step", "names", "own"), [
    (validate_config, NAMES, ["job_resource_name"]),
    (read_endpoint, list(SMOKE), ["endpoint_name", "endpoint"]),
])  # fmt: skip
def test_step_parameter_lists_are_the_declaration(step, names, own):
    signature = _signature(step).parameters
    assert list(signature) == names + own
    assert [signature[n].annotation for n in names] == [by_name(n).type for n in names]
    described = _described(step.python_func)
    assert {n: described[n] for n in names} == {n: by_name(n).help for n in names}


def test_generated_files_are_current():
    for path, text in gen.outputs().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.relative_to(ROOT)} is stale: run make generate"


def test_a_step_file_without_its_markers_is_refused_not_rewritten():
    with pytest.raises(ValueError, match="marker comments"):
        gen.render_component("def f(\n    project: str,\n):\n    pass\n", ("project",))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> pipeline_spec_pb2.PipelineSpec:
    path = tmp_path_factory.mktemp("params") / "vllm-deploy-multimodal.yaml"
    compile_pipeline(config.from_preset("llama-3.2-11b-vision-instruct"), path)
    return json_format.ParseDict(yaml.safe_load(path.read_text()), pipeline_spec_pb2.PipelineSpec())


def test_compiled_parameters_carry_the_declared_type_default_and_description(compiled):
    params = compiled.root.input_definitions.parameters
    assert sorted(params) == sorted(NAMES)
    preset = dataclasses.asdict(config.from_preset("llama-3.2-11b-vision-instruct"))
    for p in PARAMETERS:
        spec = params[p.name]
        assert pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name(spec.parameter_type) == KFP_TYPES[p.type]
        assert spec.description == p.help, p.name
        if p.name == "project":  # no default: the console asks for it
            assert not spec.HasField("default_value")
        else:
            assert json_format.MessageToDict(spec.default_value) == preset[p.field], p.name
    validate_inputs = compiled.components["comp-validate-config"].input_definitions.parameters
    for p in PARAMETERS:
        assert " ".join(validate_inputs[p.name].description.split()) == p.help
        assert validate_inputs[p.name].parameter_type == params[p.name].parameter_type


def test_validate_config_step_runs_its_generated_source_under_kfp_local(tmp_path, monkeypatch):
    """The step runs the function's source text (the YAML's command), not the imported function."""
    from kfp import local
    from kfp.local import config as local_config

    monkeypatch.chdir(tmp_path)  # never the repository root: the step would import our sources from cwd
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    try:
        cfg = config.from_preset("llama-3.1-8b-instruct", project="my-project", teardown_policy="always")
        values = dataclasses.asdict(cfg)
        values["location"] = values.pop("region")
        task = validate_config(**values, job_resource_name="projects/1/locations/us-central1/pipelineJobs/run-1")
    finally:
        local_config.LocalExecutionConfig.instance = None
    assert config.DeploymentConfig.from_json(task.outputs["config"]) == cfg
    assert task.outputs["run_label"].startswith("run-1")


# The run file's JSON Schema ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(gen.SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_run_file_validates_against_the_schema(validator, example):
    data = configfile.read_yaml(example.read_text(), str(example))
    assert list(validator.iter_errors(data)) == []
    configfile.parse(data)  # and the reader takes it


@pytest.mark.parametrize("preset", sorted(recipes.PRESETS))
def test_every_preset_derived_run_file_validates_against_the_schema(validator, preset):
    short = {"preset": preset, "project": "my-project", "region": "us-central1"}
    full = dataclasses.asdict(config.from_preset(preset, project="my-project"))
    full["pipeline"] = {"pipeline_root": "gs://my-bucket/root", "labels": {"team": "ml"}}
    for run_file in (short, full):
        assert list(validator.iter_errors(run_file)) == [], run_file
        configfile.parse(run_file)


def test_schema_and_reader_agree_on_every_fields_type(validator):
    """What the reader refuses for its type the schema refuses, and the other way round (closed sets aside)."""
    schema = json.loads(gen.SCHEMA.read_text())
    samples = [True, 2, 2.0, 2.5, "auto", ["--a=1"], [1], {"team": "ml"}, {"team": 1}, None]
    for p in PARAMETERS:
        field_schema = {k: v for k, v in schema["properties"][p.field].items() if k != "enum"}
        for value in samples:
            schema_ok = jsonschema.Draft202012Validator(field_schema).is_valid(value)
            reader_ok = not configfile.type_problems({p.field: value})
            assert schema_ok == reader_ok, (p.field, value)


def test_schema_refuses_what_the_reader_refuses_by_key_and_choice(validator):
    base = {"project": "my-project", "region": "us-central1"}
    for bad in ({"max_model_lenn": 1}, {"teardown_policy": "sometimes"}, {"pipeline": {"root": "gs://b/r"}},
                {"region": "mars-central1"}, {"preset": "llama-9"}):  # fmt: skip
        assert not validator.is_valid({**base, **bad}), bad
        with pytest.raises(config.ConfigError):
            configfile.parse({**base, **bad})
    # No key is required: project and region come from gcloud's defaults when the file leaves them out.
    assert validator.is_valid({"project": "my-project"}) and validator.is_valid({})


def test_pinned_step_packages_match_pyproject():
    from components._runtime import PACKAGES

    pyproject = (ROOT / "pyproject.toml").read_text()
    for pin in PACKAGES.values():
        assert f'"{pin}"' in pyproject, pin
