"""A duplicate key on one line is named correctly; recursive or exploding aliases are refused (issue 17, item 12)."""

import pytest

from tests.cli_support import invoke
from vllm_vertex import configfile
from vllm_vertex.config import ConfigError


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("preset: llama-3.1-8b-instruct\nlabels: {owner: me, team: a, team: b}\n",
         "key 'team' is given 2 times in one mapping, at line 2, columns 21 and 30"),
        ('{"preset": "llama-3.1-8b-instruct", "project": "p", "project": "q"}',
         "key 'project' is given 2 times in one mapping, at line 1, columns 37 and 53"),
        ("preset: x\nproject: p\nproject: q\n", "key 'project' is given 2 times in one mapping, at lines 2 and 3"),
    ],
)  # fmt: skip
def test_a_duplicate_key_is_named_with_where_it_is(text, says):
    with pytest.raises(ConfigError) as info:
        configfile.read_yaml(text)
    assert says in str(info.value)


def _bomb() -> str:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return "labels:\n  " + "\n  ".join(levels) + "\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("extra_vllm_args: &a [*a]\n", "an alias refers to the list or mapping that contains it"),
        ("labels: &m {x: *m}\n", "an alias refers to the list or mapping that contains it"),
        (_bomb(), "over 100,000 values once its aliases are expanded"),
        ("extra_vllm_args: " + "[" * 40 + "]" * 40 + "\n", "nest deeper than 32 levels"),
    ],
    ids=["recursive list", "recursive mapping", "billion laughs", "deep"],
)
def test_recursive_and_exploding_aliases_are_refused(text, says):
    with pytest.raises(ConfigError, match=says):
        configfile.read_yaml(text)


def test_submit_refuses_a_recursive_alias_with_exit_2(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("preset: llama-3.1-8b-instruct\nproject: my-project-1\nextra_vllm_args: &a [*a]\n")
    result = invoke(None, "submit", str(run), "--dry-run")
    assert result.exit_code == 2 and "alias" in result.output and "Traceback" not in result.output


def test_ordinary_aliases_still_work():
    data = configfile.read_yaml("base: &b {team: a}\nlabels: *b\nextra_vllm_args: [--seed=1]\n")
    assert data["labels"] == {"team": "a"}
