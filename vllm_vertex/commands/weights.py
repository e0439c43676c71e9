"""``weights list`` and ``weights prune``: the staged-weights cache in Cloud Storage (``stage_weights_to``).

Runs never delete staged weights (teardown and cleanup leave them: they are a cache). These commands are
the way to see what the cache holds and to drop old commits.
"""

from __future__ import annotations

import dataclasses

import click

from vllm_vertex.commands._common import guarded, require_credentials
from vllm_vertex.commands.follow import json_option
from vllm_vertex.commands.lists import _json, _say, _table
from vllm_vertex.errors import BadInput

__all__ = ["weights"]


def _where(dest: str, project: str) -> tuple[str, str]:
    from vllm_vertex.config import GCS_RE

    if not GCS_RE.match(dest.rstrip("/")):
        raise BadInput(f"{dest!r} is not a gs://bucket[/prefix] folder: give the run file's stage_weights_to.")
    if not project:
        from vllm_vertex import gcloud_defaults

        project, source = gcloud_defaults.project()
        if project:
            click.echo(f"using project {project} (from {source})", err=True)
    if not project:
        raise BadInput("--project missing: give the Google Cloud project (or gcloud config set project P).")
    return dest, project


def _size(n: int) -> str:
    from vllm_vertex.weights.progress import human_bytes

    return human_bytes(n)


@click.group()
def weights():
    """The staged-weights cache (stage_weights_to): list it, prune old commits."""


@weights.command("list")
@click.argument("dest", metavar="GS_FOLDER")
@click.option("--project", default="", help="Google Cloud project ID (billing of the requests).")
@json_option
@guarded
def weights_list(dest, project, as_json):
    """List the staged copies under GS_FOLDER: repo, commit, complete or not, size, when staged."""
    from vllm_vertex.cloud.weights import list_staged

    dest, project = _where(dest, project)
    require_credentials()
    copies = list_staged(dest, project)
    if as_json:
        _json([dataclasses.asdict(c) for c in copies])
        return
    if not copies:
        _say(f"no staged weights under {dest}")
        return
    header = ["REPO", "COMMIT", "STATE", "SIZE", "FILES", "STAGED", "REVISION"]
    rows = [[c.repo, c.sha[:12], "complete" if c.complete else "partial", _size(c.bytes), str(c.files),
             c.staged_at[:19].replace("T", " ") or "-", c.revision or "-"] for c in copies]
    for line in _table(header, rows):
        _say(line)
    partial = sum(not c.complete for c in copies)
    if partial:
        _say(f"{partial} partial: a staging cut short (the next run resumes it) or still running; prune leaves them")


@weights.command("prune")
@click.argument("dest", metavar="GS_FOLDER")
@click.option("--keep", required=True, type=click.IntRange(1, None), help="Complete copies to keep per repo, newest.")
@click.option("--project", default="", help="Google Cloud project ID (billing of the requests).")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted, delete nothing.")
@json_option
@guarded
def weights_prune(dest, keep, project, dry_run, as_json):
    """Delete all but the KEEP newest complete copies of each repo under GS_FOLDER (partial folders stay)."""
    from vllm_vertex.cloud.weights import delete_copy, list_staged
    from vllm_vertex.weights.manifest import prune_plan

    dest, project = _where(dest, project)
    require_credentials()
    doomed = prune_plan(list_staged(dest, project), keep)
    deleted = [] if dry_run else [(c, delete_copy(c.uri, project)) for c in doomed]
    if as_json:
        _json({"dry_run": dry_run, "keep": keep, "deleted": [] if dry_run else [c.uri for c, _ in deleted],
               "would_delete": [c.uri for c in doomed] if dry_run else [],
               "bytes": sum(c.bytes for c in doomed)})
        return
    if not doomed:
        _say(f"nothing to prune: every repo under {dest} has at most {keep} complete copies")
        return
    verb = "would delete" if dry_run else "deleted"
    for c in doomed:
        _say(f"{verb} {c.uri} ({c.repo} at {c.sha[:12]}, {_size(c.bytes)}, staged {c.staged_at or '-'})")
    _say(f"{verb} {len(doomed)} copies, {_size(sum(c.bytes for c in doomed))}")
