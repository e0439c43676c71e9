"""KFP needs every parameter spelled out in each signature; these tests keep the copies in step."""

import dataclasses
import inspect
import pathlib

import components
from components import validate_config
from pipelines import canary, deploy_and_verify
from vllm_vertex.config import DeploymentConfig

FIELDS = {f.name for f in dataclasses.fields(DeploymentConfig)} - {"region"} | {"location"}
HIDDEN = {"api_endpoint", "hf_endpoint"}


def _params(component) -> set[str]:
    return set(inspect.signature(component.python_func if hasattr(component, "python_func")
                                 else component.pipeline_func).parameters)


def test_pipeline_parameters_are_the_config_fields_and_no_step_takes_a_hook():
    """The stand-in override is the environment's (``cloud.context``): no pipeline or step parameter carries it."""
    assert _params(deploy_and_verify) == FIELDS
    assert not HIDDEN & _params(canary)
    steps = [getattr(components, name) for name in components.__all__]
    assert len(steps) >= 13
    for step in steps:
        assert not HIDDEN & _params(step), step.name


def test_validate_step_takes_every_config_field():
    assert _params(validate_config) == FIELDS | {"job_resource_name"}


def test_every_parameter_is_documented_in_the_pipeline_docstring_and_the_readme():
    doc = deploy_and_verify.pipeline_func.__doc__
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in FIELDS:
        assert f"        {name}:" in doc, name
        assert f"| `{name}` |" in readme, name
    for name in HIDDEN:  # the former test hooks: nowhere in the console's descriptions
        assert f"        {name}:" not in doc
        assert f"| `{name}` |" not in readme, name


def test_pinned_step_packages_match_pyproject():
    from components._runtime import PACKAGES

    pyproject = (pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    for pin in PACKAGES.values():
        assert f'"{pin}"' in pyproject, pin
