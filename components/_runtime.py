"""How our code reaches a pipeline step at run time on Vertex, without a custom image.

Every component is a lightweight Python component on Google's GCPC image (aiplatform, kfp,
google-auth and GCPC are preinstalled there). The core modules a step can reach travel inside
the component itself through KFP's ``embedded_artifact_path``: compile time packs them as a
tarball into the component's source; run time unpacks it and puts it on ``sys.path``. Which
modules a step carries is computed from the import graph of its body (``step_modules``), not
listed by hand; the archive is built in memory (``core_archive``), so importing this module has
no side effect and no folder is shared between users or processes. Steps pip-install only small,
pinned clients that the image lacks (see ``PACKAGES``).

With a prebuilt runtime image (``image/Dockerfile``: GCPC's image plus those clients and the core,
``vllm-vertex compile --image URI``), ``image_container`` gives each step a container that installs
nothing and embeds nothing.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import functools
import inspect
import io
import lzma
import pathlib
import re
import tarfile
import tempfile
import textwrap
import tokenize
from collections.abc import Iterable

from kfp import dsl

__all__ = [
    "BASE_IMAGE",
    "PACKAGES",
    "argument_bytes",
    "archive_files",
    "closure",
    "core_archive",
    "embedded_files",
    "image_container",
    "step_modules",
    "vllm_component",
]

BASE_IMAGE = "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0"

# Pinned clients a step installs at run time, by the name the components use.
PACKAGES: dict[str, str] = {
    "quotas": "google-cloud-quotas==0.6.3",
    "secrets": "google-cloud-secret-manager==2.32.0",
    "openai": "openai==3.57.0",
    "aiohttp": "aiohttp==3.14.5",  # past the CVEs of the image's 3.13.2 (installed over it, with yarl)
    "hf": "huggingface_hub==2.4.0",
    "logging": "google-cloud-logging==3.17.0",
}

_PACKAGE = "vllm_vertex"
_SOURCE = pathlib.Path(__file__).resolve().parent.parent / _PACKAGE
_FIXED_MTIME = 1_700_000_000  # every archive entry's mtime: compiling twice gives the same bytes
_B64 = re.compile(r"__KFP_EMBEDDED_ARCHIVE_B64 = '([A-Za-z0-9+/=]*)'")
# How KFP's generated code opens the archive; the step's copy is changed to open ours (tar.xz).
_KFP_TAR_MODE = "mode='r:gz'"
_FUNCTIONS: dict[str, object] = {}  # each component's Python function, by name (``--function_to_execute``)


_MODULE = "<module>"  # the unit of a module's import-time code
_ALL = "*"  # every unit of a module
_Ref = tuple[str, str]  # (module, unit): a top-level function or class, _MODULE or _ALL


@dataclasses.dataclass(frozen=True)
class _Module:
    """One core module as the walker sees it (each file is read and parsed once per process)."""

    refs: dict[str, frozenset[_Ref]]  # unit (top-level def or class, or _MODULE) -> what running it can reach
    data: tuple[str, ...]  # the package data it declares (``__package_data__``)
    slim: bytes  # its text as embedded
    lazy: dict[str, str]  # name -> submodule that defines it, for a package serving names lazily (``__lazy__``)


@functools.cache
def _module_path(name: str) -> pathlib.Path | None:
    """The source file of core module ``name`` (a package's ``__init__.py``), or None if it is none of ours."""
    parts = name.split(".")
    if parts[0] != _PACKAGE:
        return None
    base = _SOURCE.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def _import_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module name of ``from <base> import ...`` (a relative one counts from ``module``'s package)."""
    if not node.level:
        return node.module or ""
    parts = (module if is_package else module.rpartition(".")[0]).split(".")
    package = ".".join(parts[: len(parts) - node.level + 1])
    return f"{package}.{node.module}" if node.module else package


def _bindings(nodes: Iterable[ast.AST], module: str, is_package: bool) -> dict[str, set[str]]:
    """Local name -> the core modules that an import among ``nodes`` binds it to (``import ... as name``)."""
    bound: dict[str, set[str]] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == _PACKAGE:
                    bound.setdefault(alias.asname or _PACKAGE, set()).add(alias.name if alias.asname else _PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            base = _import_base(node, module, is_package)
            for alias in node.names:
                if _module_path(f"{base}.{alias.name}"):
                    bound.setdefault(alias.asname or alias.name, set()).add(f"{base}.{alias.name}")
    return bound


def _references(nodes: list[ast.AST], module: str, is_package: bool, units, bound) -> frozenset[_Ref]:
    """What running ``nodes`` (all nodes of some code of ``module``, parents first) can reach in the core.

    Every import counts, at the top, in functions and in branches (the core imports lazily); so do the
    module's own functions and classes it names, and ``mod.name`` for a core module ``mod``. A core
    module used other than as ``mod.name``, a dynamic import or ``globals()`` reaches everything there.
    """
    found: set[_Ref] = set()
    attribute_bases = set()
    for node in nodes:
        if isinstance(node, ast.Name):
            if node.id in units:
                found.add((module, node.id))
            if node.id in bound and id(node) not in attribute_bases:
                found.update((target, _ALL) for target in bound[node.id])
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name):  # seen before its child: ``ast.walk`` goes parents first
                attribute_bases.add(id(node.value))
                found.update((target, node.attr) for target in bound.get(node.value.id, ()))
        elif isinstance(node, ast.Import):
            found.update((a.name, _MODULE) for a in node.names if a.name.split(".")[0] == _PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            base = _import_base(node, module, is_package)
            if base.split(".")[0] == _PACKAGE:
                found.add((base, _MODULE))
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    found.add((sub, _MODULE) if _module_path(sub) else (base, _ALL if a.name == "*" else a.name))
        elif isinstance(node, ast.Call):
            called = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if called in ("import_module", "__import__"):  # a name computed at run time: the whole package
                package = module if is_package else module.rpartition(".")[0]
                found.update((sub, _ALL) for sub in _submodules(package))
            elif called in ("globals", "vars"):
                found.add((module, _ALL))
    return frozenset(found)


def _submodules(package: str) -> list[str]:
    """The modules and packages directly inside core package ``package``."""
    path = _module_path(package)
    assert path is not None, package  # only our packages are walked
    folder = path.parent
    names = [p.stem for p in folder.glob("*.py") if p.name != "__init__.py"]
    names += [p.name for p in folder.iterdir() if (p / "__init__.py").is_file()]
    return [f"{package}.{n}" for n in sorted(names)]


def _type_checking_only(stmt: ast.stmt) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) with no ``else``: never runs."""
    if not isinstance(stmt, ast.If) or stmt.orelse:
        return False
    test = stmt.test
    return getattr(test, "id", getattr(test, "attr", "")) == "TYPE_CHECKING"


def _import_time(tree: ast.Module) -> list[ast.AST]:
    """The code that runs when the module is imported: all but function bodies (a decorated function counts whole)
    and ``if TYPE_CHECKING:`` blocks."""
    nodes: list[ast.AST] = []
    for stmt in tree.body:
        if _type_checking_only(stmt):
            continue
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            nodes += [stmt] if stmt.decorator_list else [stmt.args]
        elif isinstance(stmt, ast.ClassDef):
            nodes += [*stmt.bases, *stmt.keywords, *stmt.decorator_list]
            for item in stmt.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    nodes += [*item.decorator_list, item.args]
                else:
                    nodes.append(item)
        else:
            nodes.append(stmt)
    return nodes


def _lazy_names(tree: ast.Module, path: pathlib.Path) -> dict[str, str]:
    """A package's module-level ``__lazy__`` literal: the names its ``__getattr__`` imports from which submodule."""
    for node in tree.body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "__lazy__":
            lazy = ast.literal_eval(value)
            pairs = lazy.items() if isinstance(lazy, dict) else [(None, None)]
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
                raise RuntimeError(f"{path}: __lazy__ must be a dict literal of names to submodules")
            return lazy
    return {}


def _package_data(tree: ast.Module, path: pathlib.Path) -> tuple[str, ...]:
    """The data files a module reads, from its module-level ``__package_data__`` (globs under ``vllm_vertex/``)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__package_data__" for t in node.targets):
            patterns = ast.literal_eval(node.value)
            if isinstance(patterns, str) or not all(isinstance(p, str) for p in patterns):
                raise RuntimeError(f"{path}: __package_data__ must be a tuple of globs, not {patterns!r}")
            files = tuple(sorted({p for pattern in patterns for p in _SOURCE.glob(pattern) if p.is_file()}))
            if not files:
                raise RuntimeError(f"{path}: __package_data__ {patterns!r} names no file under {_SOURCE}")
            return tuple(p.relative_to(_SOURCE).as_posix() for p in files)
    return ()


@functools.cache
def _module(name: str) -> _Module:
    """Core module ``name``, parsed once: what each of its units reaches, its data, its slimmed text."""
    path = _module_path(name)
    if path is None:
        raise RuntimeError(f"{name} is imported by a pipeline step but is not a module under {_SOURCE}")
    source = path.read_bytes()
    tree = ast.parse(source, filename=str(path))
    is_package = path.name == "__init__.py"
    defs = {s.name: s for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    walked = {unit: list(ast.walk(node)) for unit, node in defs.items()}
    walked[_MODULE] = [n for root in _import_time(tree) for n in ast.walk(root)]
    bound = _bindings((n for nodes in walked.values() for n in nodes), name, is_package)
    refs = {unit: _references(nodes, name, is_package, defs, bound) for unit, nodes in walked.items()}
    everything = [tree, *(n for nodes in walked.values() for n in nodes)]
    return _Module(refs, _package_data(tree, path), _slim(source, everything), _lazy_names(tree, path))


def _slim(source: bytes, nodes: Iterable[ast.AST]) -> bytes:
    """The module as embedded: docstrings and comments blanked, every line where it was.

    Every embedded byte counts against Linux's limit on one argument (see ``core_archive``); blank
    lines cost almost nothing once gzipped, and they keep a traceback from a step on the line
    numbers of the repository's source. Code and data are unchanged. (Text surgery on the parsed
    positions: ``ast.unparse`` took a third of the compile's CPU.)
    """
    lines = source.decode("utf-8").split("\n")
    keep: set[int] = set()  # lines inside a multi-line string: a "#" there is data, not a comment
    for node in nodes:
        end = getattr(node, "end_lineno", None)
        if isinstance(node, ast.Constant | ast.JoinedStr) and end is not None and end > node.lineno:
            keep.update(range(node.lineno - 1, end))  # 0-based: every line the string spans
        body = getattr(node, "body", None)
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) or not body:
            continue
        doc = body[0]
        if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)):
            continue
        first, last = doc.lineno - 1, (doc.end_lineno or doc.lineno) - 1
        after = len(body) > 1 and body[1].lineno - 1 == last
        if lines[first][: doc.col_offset].strip() or lines[last][doc.end_col_offset :].strip() or after:
            continue  # shares a line with other code: left as is
        lines[first : last + 1] = [" " * doc.col_offset + "pass" if len(body) == 1 else ""] + [""] * (last - first)
    original = source.decode("utf-8").split("\n")
    for token in tokenize.generate_tokens(io.StringIO(source.decode("utf-8")).readline):
        row, col = token.start[0] - 1, token.start[1]
        if token.type == tokenize.COMMENT and lines[row] == original[row]:  # a comment, on a line left as it was
            lines[row] = lines[row][:col]
    return "\n".join(line.rstrip() if i not in keep else line for i, line in enumerate(lines)).encode()


def closure(roots: Iterable[_Ref]) -> tuple[str, ...]:
    """Every core module that running ``roots`` can import, sorted: the step's import graph, followed transitively.

    The graph's nodes are a module's import-time code and its top-level functions and classes (a class
    with all its methods), so importing one function of ``config`` does not carry what its validation
    imports lazily. A module reached at all is embedded whole, with the packages above it (importing
    ``vllm_vertex.cloud.auth`` runs ``vllm_vertex/cloud/__init__.py`` first). Reaching a name a package
    serves through a module ``__getattr__`` reaches that function (whose dynamic import reaches every
    submodule), unless the package names the submodule in a ``__lazy__`` literal; ``if TYPE_CHECKING:``
    blocks never run.
    """
    todo, seen = list(roots), set()
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        name, unit = ref
        module, parts = _module(name), name.split(".")
        todo += [(".".join(parts[:i]), _MODULE) for i in range(1, len(parts))]
        if unit == _ALL:
            units = list(module.refs)
        elif unit in module.refs:
            units = [unit]
        elif _module_path(f"{name}.{unit}"):  # a submodule, reached as an attribute of its package
            units, todo = [], [*todo, (f"{name}.{unit}", _ALL)]
        elif unit in module.lazy:  # served lazily from a submodule the package names (``__lazy__``)
            units, todo = [], [*todo, (f"{name}.{module.lazy[unit]}", unit)]
        else:  # bound at import time, or served by the module's __getattr__
            units = ["__getattr__"] if "__getattr__" in module.refs else []
        for u in {_MODULE, *units}:
            todo += module.refs[u]
    return tuple(sorted({name for name, _ in seen}))


def step_modules(func) -> tuple[str, ...]:
    """The core modules that component function ``func`` can reach: the closure of its body.

    Only the body travels (KFP copies the function's source), so the component module's own imports
    do not count.
    """
    nodes = list(ast.walk(ast.parse(textwrap.dedent(inspect.getsource(func)))))
    module = func.__module__
    return closure([*_references(nodes, module, False, {}, _bindings(nodes, module, False)), _MASK_STREAMS])


# Every step's program calls this before the step's function runs (``_masking_streams``).
_MASK_STREAMS: _Ref = ("vllm_vertex.masked_streams", "mask_streams")


def _masking_streams(source: str, func) -> str:
    """The step's program ``source`` with its stdout and stderr masked (``masked_streams``) before ``func`` runs."""
    head = f"\ndef {func.__name__}("
    if source.count(head) != 1:
        raise RuntimeError(f"{func.__name__}: its definition is not where this kfp version puts it")
    call = f"\nfrom {_MASK_STREAMS[0]} import {_MASK_STREAMS[1]} as __vllm_vertex_mask\n__vllm_vertex_mask()\n"
    return source.replace(head, call + head)


def archive_files(modules: Iterable[str]) -> dict[str, bytes]:
    """The archive's files for ``modules``: each module slimmed, plus the data files they declare (minified JSON)."""
    import json

    files = {}
    for name in modules:
        module = _module(name)
        path = _module_path(name)
        assert path is not None, name  # the closure holds only our modules
        files[path.relative_to(_SOURCE.parent).as_posix()] = module.slim
        for rel in module.data:
            data = (_SOURCE / rel).read_bytes()
            if rel.endswith(".json"):
                data = json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False).encode()
            files[f"{_PACKAGE}/{rel}"] = data
    return files


def core_archive(modules: Iterable[str]) -> bytes:
    """The tar.gz a step embeds: ``modules`` and their data, built in memory with fixed metadata.

    Entries are sorted, with fixed mtime, owner (0/0, no names) and modes, and xz has no timestamp,
    so the same sources give the same bytes on any machine and for any user. Nothing
    is read from or written to a shared folder. The archive travels base64-encoded in ONE argument
    of the step's command, and Linux refuses an argument over 128 KiB (``MAX_ARG_STRLEN``): that is
    why a step carries only the modules it reaches, slimmed.
    """
    files = archive_files(modules)
    folders = {str(parent) for name in files for parent in pathlib.PurePosixPath(name).parents[:-1]}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(folders | set(files)):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = _FIXED_MTIME, 0, 0, "", ""
            if name in files:
                info.mode, info.size = 0o644, len(files[name])
                tar.addfile(info, io.BytesIO(files[name]))
            else:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
    # xz, not KFP's gzip: 15 % smaller here (preflight 49,977 → 42,568 bytes before base64); the step's
    # extraction code is switched to match (``_KFP_TAR_MODE``), and the image's Python 3.12 has lzma.
    return lzma.compress(buf.getvalue(), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                         preset=9 | lzma.PRESET_EXTREME)


def vllm_component(*packages: str):
    """``@dsl.component`` on the GCPC image, embedding the core modules the body reaches; installs ``packages``.

    KFP's ``embedded_artifact_path`` writes the run-time half: the step decodes the archive, extracts it
    into a fresh temporary folder and puts that folder first on ``sys.path``, so ``import vllm_vertex``
    finds the embedded modules. KFP is given an empty private folder (``tempfile.mkdtemp``: mode 0700,
    removed right after) and its archive is then replaced by ``core_archive`` of ``step_modules``:
    KFP's own archive would hold the compiling user's uid and the current time.
    """

    def wrap(func):
        _FUNCTIONS[func.__name__] = func
        with tempfile.TemporaryDirectory(prefix="vllm-vertex-embed-") as empty:
            component = dsl.component(
                base_image=BASE_IMAGE,
                packages_to_install=[PACKAGES[p] for p in packages],
                install_kfp_package=False,
                embedded_artifact_path=empty,
            )(func)
        line = f"__KFP_EMBEDDED_ARCHIVE_B64 = '{base64.b64encode(core_archive(step_modules(func))).decode()}'"
        container = component.component_spec.implementation.container
        source = container.command[-1]
        if len(_B64.findall(source)) != 1 or source.count(_KFP_TAR_MODE) != 1:
            raise RuntimeError(f"{func.__name__}: KFP's embedded-archive code is not where this kfp version had it")
        source = _B64.sub(lambda _: line, source).replace(_KFP_TAR_MODE, "mode='r:xz'")
        container.command = [*container.command[:-1], _masking_streams(source, func)]
        return component

    return wrap


def embedded_files(component) -> dict[str, bytes]:
    """The files of the archive embedded in ``component``'s command, by path (what the step extracts)."""
    (archive,) = _B64.findall(component.component_spec.implementation.container.command[-1])
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(archive)), mode="r:xz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]  # a regular file always has a reader


def argument_bytes(component) -> int:
    """The longest argument of ``component``'s command, in bytes with its NUL (what ``MAX_ARG_STRLEN`` bounds)."""
    container = component.component_spec.implementation.container
    return max(len(str(a).encode()) + 1 for a in [*container.command, *(container.args or [])])


def image_container(function_name: str, image: str) -> dict:
    """The container of step ``function_name`` on a prebuilt runtime ``image`` (``image/Dockerfile``).

    The image already holds the pinned clients and the core package, so the step installs nothing at
    run time and carries no embedded archive: ``{"image", "command", "args"}`` for the compiled YAML.
    """
    component = dsl.component(base_image=image, install_kfp_package=False)(_FUNCTIONS[function_name])
    container = component.component_spec.implementation.container
    command = [*container.command[:-1], _masking_streams(container.command[-1], _FUNCTIONS[function_name])]
    return {"image": image, "command": command, "args": list(container.args)}
