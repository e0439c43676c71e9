"""KFP needs every parameter spelled out in each signature; these tests keep the copies in step."""

import dataclasses
import inspect
import pathlib

from components import validate_config
from pipelines import canary, canary_for_tests, deploy_and_verify, deploy_and_verify_for_tests
from vllm_vertex.config import DeploymentConfig

FIELDS = {f.name for f in dataclasses.fields(DeploymentConfig)} - {"region"} | {"location"}
HIDDEN = {"api_endpoint", "hf_endpoint"}


def _params(component) -> set[str]:
    return set(inspect.signature(component.python_func if hasattr(component, "python_func")
                                 else component.pipeline_func).parameters)


def test_production_pipeline_parameters_are_the_config_fields_and_the_test_variant_adds_the_hooks():
    assert _params(deploy_and_verify) == FIELDS
    assert _params(deploy_and_verify_for_tests) == FIELDS | HIDDEN
    assert _params(canary_for_tests) == _params(canary) | {"api_endpoint"}
    assert not HIDDEN & _params(canary)


def test_validate_step_takes_every_config_field():
    assert _params(validate_config) == FIELDS | {"job_resource_name"}


def test_every_parameter_is_documented_in_the_pipeline_docstring_and_the_readme():
    doc = deploy_and_verify.pipeline_func.__doc__
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in FIELDS:
        assert f"        {name}:" in doc, name
        assert f"| `{name}` |" in readme, name
    for name in HIDDEN:  # the test hooks: documented in the test variant only, never in the console's
        assert f"        {name}:" not in doc and f"        {name}:" in deploy_and_verify_for_tests.pipeline_func.__doc__
        assert f"| `{name}` |" not in readme, name


def test_pinned_step_packages_match_pyproject():
    from components._runtime import PACKAGES

    pyproject = (pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    for pin in PACKAGES.values():
        assert f'"{pin}"' in pyproject, pin
