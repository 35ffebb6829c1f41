"""Run the Tiltfile with a Starlark interpreter against recording stubs of Tilt's builtins.

Tilt itself cannot run here (no Docker, no kind), so this executes the real Tiltfile with
``starlark-pyo3`` and stand-ins for the builtins it calls. The stand-ins record every
call; ``helm()`` runs the real ``helm template`` with the arguments the Tiltfile passed,
so the tests can check the Tiltfile's resource names against what the chart renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import starlark
import yaml

from tests.deploy.chart import ROOT, parse_objects, run_helm

TRIGGER_MODE_AUTO = 0
TRIGGER_MODE_MANUAL = 1


@dataclass
class Call:
    """One call of a Tilt builtin."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class TiltRun:
    """What the Tiltfile asked Tilt to do."""

    calls: list[Call] = field(default_factory=list)
    # Objects passed to k8s_yaml (from helm() output or YAML files).
    objects: list[dict[str, Any]] = field(default_factory=list)

    def named(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    def one(self, name: str) -> Call:
        found = self.named(name)
        assert len(found) == 1, f"expected one {name}() call, got {len(found)}"
        return found[0]

    def resource(self, name: str) -> Call:
        """The k8s_resource or local_resource call that names resource ``name``."""
        for call in self.named("k8s_resource"):
            if call.kwargs.get("new_name", call.args[0] if call.args else None) == name:
                return call
        for call in self.named("local_resource"):
            if (call.args[0] if call.args else call.kwargs.get("name")) == name:
                return call
        raise AssertionError(f"no resource named {name!r}")


def _helm_stub(run: TiltRun) -> Callable[..., str]:
    def helm(
        chart: str,
        name: str = "chart",
        namespace: str = "",
        values: list[str] | None = None,
        set: list[str] | None = None,
        **unsupported: Any,
    ) -> str:
        assert not unsupported, f"helm() got unexpected arguments {unsupported}"
        args = ["template", name, chart, "--include-crds"]
        if namespace:
            args += ["--namespace", namespace]
        for path in values or []:
            args += ["--values", path]
        for assignment in set or []:
            args += ["--set", assignment]
        return run_helm(*args).stdout

    return helm


def _k8s_yaml_stub(run: TiltRun, read_text: Callable[[str], str]) -> Callable[..., None]:
    def k8s_yaml(source: Any, allow_duplicates: bool = False) -> None:
        sources = source if isinstance(source, list) else [source]
        for item in sources:
            text = str(item)
            if "\n" not in text:  # a path, as Tilt reads it; a Blob (helm output) otherwise
                text = read_text(text)
            run.objects.extend(parse_objects(text))

    return k8s_yaml


def _filter_yaml_stub(
    blob: str, kind: str | None = None, name: str | None = None, **unsupported: Any
) -> tuple[str, str]:
    """Tilt's filter_yaml for a rendered stream: (matching, rest)."""
    assert not unsupported, f"filter_yaml() got unexpected arguments {unsupported}"
    matching, rest = [], []
    for obj in parse_objects(str(blob)):
        hit = (kind is None or obj["kind"].lower() == kind.lower()) and (
            name is None or obj["metadata"]["name"] == name
        )
        (matching if hit else rest).append(obj)
    return yaml.safe_dump_all(matching), yaml.safe_dump_all(rest)


def run_tiltfile(
    tiltfile: Path = ROOT / "Tiltfile",
    files: dict[str, str] | None = None,
) -> TiltRun:
    """Execute ``tiltfile``; ``files`` overrides what os.path.exists/read_yaml_stream see."""
    files = files or {}
    run = TiltRun()

    def exists(path: str) -> bool:
        return path in files or (ROOT / path).exists()

    def read_text(path: str) -> str:
        return files[path] if path in files else (ROOT / path).read_text()

    def read_yaml_stream(path: str) -> list[Any]:
        return [doc for doc in yaml.safe_load_all(read_text(path)) if doc is not None]

    def recorder(name: str, result: Callable[..., Any] | None = None) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            run.calls.append(Call(name, args, kwargs))
            if result is not None:
                return result(*args, **kwargs)
            return {"builtin": name, "args": list(args)}

        return record

    module = starlark.Module()
    builtins: dict[str, Callable[..., Any] | None] = {
        "version_settings": None,
        "allow_k8s_contexts": None,
        "docker_build": None,
        "fall_back_on": None,
        "sync": None,
        "run": None,
        "helm": _helm_stub(run),
        "k8s_yaml": _k8s_yaml_stub(run, read_text),
        "filter_yaml": _filter_yaml_stub,
        "k8s_resource": None,
        "local_resource": None,
        "link": None,
        "read_yaml_stream": read_yaml_stream,
        "encode_yaml_stream": lambda docs: yaml.safe_dump_all(docs),
        "_os_path_exists": exists,
        # Tilt's os.getenv sees the developer's environment; the tests see none of it.
        "_os_getenv": lambda name, default=None: default,
    }
    for name, result in builtins.items():
        module.add_callable(name, recorder(name, result))
    module["TRIGGER_MODE_AUTO"] = TRIGGER_MODE_AUTO
    module["TRIGGER_MODE_MANUAL"] = TRIGGER_MODE_MANUAL

    dialect = starlark.Dialect.extended()
    dialect.enable_top_level_stmt = True
    globals_ = starlark.Globals.extended_by(
        [starlark.LibraryExtension.StructType, starlark.LibraryExtension.Print]
    )
    # Tilt's `os` module, as far as the Tiltfile uses it.
    prelude = "os = struct(path = struct(exists = _os_path_exists), getenv = _os_getenv)\n"
    source = prelude + tiltfile.read_text()
    ast = starlark.parse(str(tiltfile), source, dialect)
    starlark.eval(module, ast, globals_)
    return run
