"""SPICE ground truth: (V, G) samplers, parallel and resumable ngspice sweeps, datasets.

``datagen.simulate(spec, v, g) -> currents``: v (M, rows) V, g (M, rows, cols) S ->
(M, cols) A from the real ngspice (NaN rows for samples that did not converge).
"""

from datagen.dataset import CrossbarDataset, load_dataset
from datagen.samplers import SamplerConfig, draw
from datagen.batch import auto_chunk_size, simulate, simulate_detailed


def dataset_tag(spec) -> str:
    """Directory name of a spec's datasets and models, e.g. ``32x32_sinh_0.25V``
    (:attr:`CrossbarSpec.tag`)."""
    return spec.tag


__all__ = ["CrossbarDataset", "SamplerConfig", "auto_chunk_size", "dataset_tag", "draw",
           "load_dataset", "simulate", "simulate_detailed"]
