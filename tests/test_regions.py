"""The region list is the pinned Vertex AI SDK's, without importing the SDK at compile or CLI start."""

import pathlib
import re

import pytest

from tests.cli_support import ROOT, invoke
from vllm_vertex import config, hardware, sdk_regions


def test_generated_table_equals_the_pinned_sdks_list():
    from google.cloud.aiplatform import version
    from google.cloud.aiplatform.constants import base

    pin = re.search(r'"google-cloud-aiplatform==([0-9.]+)"', (ROOT / "pyproject.toml").read_text())[1]
    assert version.__version__ == pin == sdk_regions.SDK_VERSION
    assert sdk_regions.SUPPORTED_REGIONS == base.SUPPORTED_REGIONS, "run: python scripts/update_sdk_regions.py"
    import scripts.update_sdk_regions as gen

    path = pathlib.Path(sdk_regions.__file__)
    assert path.read_text() == gen.render(), "run: python scripts/update_sdk_regions.py"


def test_deployable_regions_are_the_sdks_without_global():
    assert hardware.VERTEX_REGIONS == sdk_regions.SUPPORTED_REGIONS - {"global"}
    assert {"us-west8", "us-east7", "asia-south2", "europe-north2"} <= hardware.VERTEX_REGIONS


@pytest.mark.parametrize("region", ["us-west8", "us-east7", "europe-north2"])
def test_newer_regions_are_accepted(region):
    config.validate(config.from_preset("llama-3.1-8b-instruct", project="my-project", region=region))


@pytest.mark.parametrize(("region", "hint"), [("us-west9", "Did you mean"), ("global", "")])
def test_unknown_region_is_one_clear_line(region, hint):
    with pytest.raises(config.ConfigError, match="is not a Vertex AI prediction region") as err:
        config.validate(config.from_preset("llama-3.1-8b-instruct", project="my-project", region=region))
    assert hint in str(err.value)


def test_unknown_region_on_the_command_line_exits_2(tmp_path):
    import yaml

    data = yaml.safe_load((ROOT / "examples" / "text-llama-3.1-8b.yaml").read_text())
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**data, "region": "us-west9"}))
    result = invoke(None, "submit", str(path))
    assert result.exit_code == 2 and "region: 'us-west9' is not a Vertex AI prediction region" in result.output
