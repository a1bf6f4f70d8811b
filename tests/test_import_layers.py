"""The packages stand on four floors, spice_netlists → datagen → surrogate →
functional_sim, and no import runs back up (``scripts/import_graph.py`` reads the
imports from the source). The simulator core works with the studies absent, and the
ngspice side of datagen never loads torch."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

from tests.support import REPO_ROOT


def _graph_module():
    spec = importlib.util.spec_from_file_location("import_graph", REPO_ROOT / "scripts" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_no_import_runs_back_up_a_floor_and_no_two_modules_import_each_other() -> None:
    graph = _graph_module()
    modules = graph.module_graph()
    assert "functional_sim.sim.engine" in modules and "spice_netlists.circuit.solver" in modules
    assert graph.violations(modules) == []


def test_the_floor_check_names_an_arrow_that_runs_up() -> None:
    graph = _graph_module()
    bad = graph.violations({"datagen.engines": {"surrogate.circuit"}, "surrogate.circuit": set()})
    assert bad == ["datagen.engines -> surrogate.circuit runs up (datagen is below surrogate)"]


def test_the_core_converts_a_network_with_the_studies_and_benchmarks_absent() -> None:
    # the studies and benchmarks cannot even be found: the core must not need them
    out = _run("""
        import importlib.abc, sys
        class Absent(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.startswith(("functional_sim.studies", "functional_sim.bench")):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Absent())
        import torch
        from functional_sim.sim import SimConfig, convert, lossless_adc_bits
        from spice_netlists import CrossbarSpec
        from surrogate import make_model
        spec = CrossbarSpec(rows=8, cols=8)
        cfg = SimConfig(spec=spec, adc_bits=lossless_adc_bits(spec, 2, 1))
        net = torch.nn.Sequential(torch.nn.Linear(12, 5))
        y = convert(net, cfg, make_model("ideal", spec))(torch.rand(3, 12))
        loaded = sorted(m for m in sys.modules if m.startswith(("functional_sim.studies",
                                                                "functional_sim.bench")))
        print(tuple(y.shape), loaded)
    """)
    assert out.strip() == "(3, 5) []"


def test_importing_the_core_loads_no_study_module() -> None:
    out = _run("""
        import sys
        import functional_sim
        import functional_sim.sim
        print(sorted(m for m in sys.modules if m.startswith(("functional_sim.studies",
                                                             "functional_sim.bench"))))
    """)
    assert out.strip() == "[]"


def test_the_ngspice_path_of_datagen_never_loads_torch() -> None:
    # ngspice sweeps run in worker processes that import these; torch stays out of them
    out = _run("""
        import sys
        import spice_netlists, datagen, datagen.runner, datagen.batch, datagen.sweep
        print("torch" in sys.modules)
    """)
    assert out.strip() == "False"
