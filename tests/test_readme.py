"""The README is a user's guide that stays true: its shown outputs, commands, flags and links.

- every fenced block that starts with ``$ vllm-vertex ...`` shows what that command prints now (whitespace
  normalised; a line ``...`` stands for any number of lines);
- every ``vllm-vertex SUBCOMMAND`` in the README's code (fenced blocks and inline code) exists, and every
  ``--flag`` shown with it is one that subcommand accepts;
- every relative link of README.md and docs/*.md points to a file that exists and, with ``#anchor``, to a
  heading of that file (GitHub's slugs).
"""

from __future__ import annotations

import pathlib
import re
import shlex

import click
import pytest
from click.testing import CliRunner

from vllm_vertex.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
# A command starts a line (or an inline code span), after an optional `$ `, or follows a shell separator;
# never an argument such as `gcloud artifacts repositories create vllm-vertex ...`.
INVOCATION = re.compile(r"(?:^\s*(?:\$\s+)?|[;&|(]\s*)vllm-vertex(?![\w-])((?:[ \t]+[^\s#]+)*)", re.M)


def fenced_blocks(text: str) -> list[str]:
    """The bodies of the fenced code blocks of a Markdown text."""
    return FENCE.findall(text)


def shown_outputs() -> list[tuple[list[str], list[str]]]:
    """(argv, shown lines) of every fenced block whose first line is ``$ vllm-vertex ...``."""
    shown = []
    for block in fenced_blocks(README.read_text()):
        first, *rest = block.rstrip("\n").split("\n")
        if first.startswith("$ vllm-vertex "):
            shown.append((shlex.split(first[len("$ vllm-vertex "):]), rest))
    return shown


def normalise(line: str) -> str:
    return " ".join(line.split())


def matches(shown: list[str], printed: list[str]) -> bool:
    """``shown`` equals ``printed`` line by line, where a line ``...`` matches any run of lines."""
    if not shown:
        return not printed
    if shown[0] == "...":
        return any(matches(shown[1:], printed[i:]) for i in range(len(printed) + 1))
    return bool(printed) and shown[0] == printed[0] and matches(shown[1:], printed[1:])


def test_the_readme_shows_outputs_of_commands():
    """At least the two plans of the guide are shown; an empty list would make the next test pass vacuously."""
    commands = [" ".join(argv) for argv, _ in shown_outputs()]
    assert any(c.startswith("plan examples/") for c in commands), commands
    assert any(c.startswith("plan --preset") for c in commands), commands


@pytest.mark.parametrize("argv,shown", shown_outputs(), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_shown_output_is_what_the_command_prints(argv, shown, monkeypatch):
    monkeypatch.chdir(ROOT)  # run files in the README are paths relative to the repository
    result = CliRunner().invoke(main, argv, catch_exceptions=False)
    printed = [normalise(line) for line in result.output.splitlines() if line.strip()]
    expected = [normalise(line) for line in shown if line.strip()]
    assert matches(expected, printed), (
        f"README shows for `vllm-vertex {' '.join(argv)}`:\n" + "\n".join(expected)
        + "\n\nthe command prints now:\n" + "\n".join(printed)
    )


def invocations(text: str) -> list[str]:
    """Every ``vllm-vertex ...`` in the code of a Markdown text: fenced blocks and inline code spans."""
    code = []
    for block in fenced_blocks(text):
        code.extend(block.replace("\\\n", " ").splitlines())
    prose = FENCE.sub("", text)
    code.extend(span.replace("\\|", "|") for span in re.findall(r"`([^`\n]+)`", prose))
    found = []
    for line in code:
        line = line.split(" #", 1)[0]  # a shell comment
        found.extend(m.group(1).strip() for m in INVOCATION.finditer(line))
    return found


def options_of(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def resolve(words: list[str]) -> tuple[list[click.Command], list[str]]:
    """The chain of commands ``words`` names (the group first) and the words left after them."""
    ctx = click.Context(main)
    chain: list[click.Command] = [main]
    words = list(words)
    while words and isinstance(chain[-1], click.Group):
        word = words[0]
        if word == "...":
            break
        if word.startswith("-"):
            if word not in options_of(chain[-1]):  # e.g. --debug before the subcommand
                break
            words.pop(0)
            continue
        names = [w for w in re.split(r"\|", word) if w]
        found = [chain[-1].get_command(ctx, n) for n in names]
        if not found or None in found:
            raise AssertionError(f"`{word}` is not a subcommand of `{chain[-1].name}`")
        chain.append(found[0])
        words.pop(0)
        for extra in found[1:]:  # `schedule create|list|pause`: check each exists
            assert extra is not None
    return chain, words


def test_the_readme_names_commands():
    names = {resolve(i.split())[0][-1].name for i in invocations(README.read_text())}
    assert {"doctor", "plan", "submit", "teardown", "follow"} <= names, names


@pytest.mark.parametrize("invocation", sorted(set(invocations(README.read_text()))))
def test_commands_and_flags_shown_exist(invocation):
    chain, rest = resolve(invocation.replace("[", " ").replace("]", " ").split())
    allowed = set().union(*(options_of(c) for c in chain))
    flags = {w.split("=", 1)[0] for w in rest if w.startswith("--")}
    unknown = sorted(flags - allowed)
    assert not unknown, f"`vllm-vertex {invocation}`: {' '.join(c.name or '' for c in chain[1:])} takes no {unknown}"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (``-`` and ``_`` kept), spaces to ``-``."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: pathlib.Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", path.read_text()), re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def links() -> list[tuple[str, str]]:
    found = []
    for path in [README, *DOCS]:
        prose = FENCE.sub("", path.read_text())
        prose = re.sub(r"`[^`\n]*`(?!\]\()", "", prose)  # inline code, unless it is a link's text
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if not re.match(r"[a-z]+:", target):
                found.append((str(path.relative_to(ROOT)), target))
    return found


def test_the_documents_have_relative_links():
    assert any(t.startswith("docs/") for _, t in links())
    assert any(t.startswith("#") for _, t in links())


@pytest.mark.parametrize("source,target", links())
def test_relative_links_resolve(source, target):
    where, _, anchor = target.partition("#")
    path = (ROOT / source).parent / where if where else ROOT / source
    assert path.exists(), f"{source}: link {target} points to a missing file"
    if anchor:
        assert path.suffix == ".md", f"{source}: anchor on a non-Markdown file: {target}"
        assert anchor in anchors(path), f"{source}: {target}: no heading with anchor #{anchor} in {where or source}"
