"""The project's import graph, read from the source (``ast``), and its floors.

``python scripts/import_graph.py`` writes ``docs/imports.md``: a Mermaid drawing of the
imports between the project's (sub)packages, and the list of module-level arrows that
run against the floors (none). ``python scripts/import_graph.py --check`` only checks:
it exits 1, naming each arrow, where one runs back up or two modules import each
other. The floors, lowest first::

    spice_netlists (spice_netlists.circuit inside it)
    datagen
    surrogate (surrogate.stages above the models)
    functional_sim.sim  (the simulator core)
    functional_sim.studies, then functional_sim.bench

A module may import only from its own floor or the floors below it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spice_netlists", "datagen", "surrogate", "functional_sim")

#: (sub)package -> floor; a module belongs to the longest prefix listed
FLOORS = {
    "spice_netlists": 0, "spice_netlists.circuit": 0,
    "datagen": 1,
    "surrogate": 2, "surrogate.stages": 3,
    "functional_sim.sim": 4, "functional_sim": 4,
    "functional_sim.studies": 5,
    "functional_sim.bench": 6,
}


def unit(module: str) -> str:
    """The (sub)package of ``FLOORS`` that ``module`` belongs to."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in FLOORS:
            return ".".join(parts[:n])
    raise KeyError(module)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """The project modules ``path`` imports (at any depth of the file)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PACKAGES:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names
                           if (ROOT / node.module.replace(".", "/") / f"{a.name}.py").exists()
                           or (ROOT / node.module.replace(".", "/") / a.name).is_dir())
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] in PACKAGES)
    return out


def module_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            graph[module_name(path)] = imports(path)
    return graph


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every arrow that runs up a floor, and every pair of modules importing each other."""
    bad = []
    for mod, deps in graph.items():
        for dep in deps:
            if FLOORS[unit(dep)] > FLOORS[unit(mod)]:
                bad.append(f"{mod} -> {dep} runs up ({unit(mod)} is below {unit(dep)})")
            if mod in graph.get(dep, ()) and mod < dep:
                bad.append(f"{mod} <-> {dep} import each other")
    return sorted(bad)


def mermaid(graph: dict[str, set[str]]) -> str:
    """The (sub)package graph as a Mermaid flowchart, floors top to bottom."""
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for mod, deps in graph.items():
        for dep in deps:
            a, b = unit(mod), unit(dep)
            if a != b:
                edges[(a, b)] += 1
    ident = {name: name.replace(".", "_") for name in FLOORS}
    lines = ["```mermaid", "flowchart BT"]
    for name in sorted(FLOORS, key=lambda n: (FLOORS[n], n)):
        lines.append(f"    {ident[name]}[\"{name}\"]")
    for (a, b), count in sorted(edges.items()):
        lines.append(f"    {ident[a]} -->|{count}| {ident[b]}")
    lines.append("```")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check the floors only")
    parser.add_argument("--out", default=str(ROOT / "docs" / "imports.md"))
    args = parser.parse_args(argv)
    graph = module_graph()
    bad = violations(graph)
    for line in bad:
        print(line, file=sys.stderr)
    if not args.check:
        text = ["# Import graph", "",
                "Written by `python scripts/import_graph.py` from the source. Each arrow "
                "points from a (sub)package to one it imports, labelled with the number of "
                "module-level imports behind it; floors rise from the bottom. "
                "`tests/test_import_layers.py` checks that no arrow runs back up.", "",
                mermaid(graph), "",
                f"Arrows against the floors: {len(bad)}."]
        Path(args.out).write_text("\n".join(text) + "\n")
        print(args.out)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
