"""The import graph of the project, read from the source with `ast`: imports flow one way, so no package module
imports a stage script and no two project modules import each other, directly or round a longer loop. Imports
inside functions count: a deferred import still ties the two modules together. One test imports for real, in a
child process: what a submitit job and the study's planner load."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bench", "dataloader", "models", "utils")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Module name → file: the top-level scripts (stage scripts and config.py) and every package module."""
    modules = {_module_name(p): p for p in REPO.glob("*.py")}
    for package in PACKAGES:
        modules.update({_module_name(p): p for p in (REPO / package).rglob("*.py")})
    return modules


def stage_scripts(modules: dict[str, Path]) -> set[str]:
    """The top-level scripts a user runs: every top-level *.py with a `__main__` guard (config.py is a module)."""
    return {name for name, path in modules.items() if "." not in name and path.parent == REPO
            and "__name__ == \"__main__\"" in path.read_text()}


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports; ``from pkg import mod`` counts as an import of ``pkg.mod``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None (depth-first search with a colour per module)."""
    colour, stack = {}, []

    def visit(node: str) -> list[str] | None:
        colour[node] = "grey"
        stack.append(node)
        for imported in sorted(graph.get(node, ())):
            if colour.get(imported) == "grey":
                return stack[stack.index(imported):] + [imported]
            if imported not in colour and (cycle := visit(imported)):
                return cycle
        stack.pop()
        colour[node] = "black"
        return None

    for node in sorted(graph):
        if node not in colour and (cycle := visit(node)):
            return cycle
    return None


def test_the_scan_sees_the_stage_scripts_and_the_packages():
    modules = project_modules()
    assert {"train2D", "main", "get3Dprediction", "compare", "study"} <= stage_scripts(modules)
    assert "config" not in stage_scripts(modules)
    assert {"utils.engine.cli", "models.pose2d", "dataloader.sources"} <= set(modules)
    graph = import_graph()
    assert "utils.engine.runtime" in graph["dataloader.loaders"]  # `from utils.engine import runtime`


def test_no_package_module_imports_a_stage_script():
    modules = project_modules()
    scripts = stage_scripts(modules)
    offenders = {name: sorted(deps & scripts) for name, deps in import_graph().items()
                 if name.split(".")[0] in PACKAGES and deps & scripts}
    assert not offenders, f"package modules importing stage scripts (move the shared code into the package): {offenders}"


def test_no_stage_script_imports_another_stage_script():
    modules = project_modules()
    scripts = stage_scripts(modules)
    offenders = {name: sorted(deps & scripts) for name, deps in import_graph().items()
                 if name in scripts and deps & scripts}
    assert not offenders, f"stage scripts importing stage scripts (share through a package module): {offenders}"


def test_no_import_cycle_between_project_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, f"import cycle: {' → '.join(cycle)}"


def test_find_cycle_finds_a_hand_made_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_a_stage_job_and_the_planner_load_without_torch_or_the_models():
    # a submitit job unpickles a StageJob in a fresh process: it must not pay for torch before its first command;
    # study.py's planner must not load the 2D models (timm, torchvision) to learn where a 2D model starts from
    probe = ("import sys, utils.study.job; light = 'torch' not in sys.modules; import utils.study.plan; "
             "print(light, 'timm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]
