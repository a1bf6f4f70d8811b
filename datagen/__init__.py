"""SPICE ground truth: (V, G) samplers, parallel and resumable ngspice sweeps, datasets.

``datagen.simulate(spec, v, g) -> currents``: v (M, rows) V, g (M, rows, cols) S ->
(M, cols) A from the real ngspice (NaN rows for samples that did not converge).
"""

from datagen.dataset import CrossbarDataset, load_dataset
from datagen.samplers import SamplerConfig, draw
from datagen.batch import auto_chunk_size, simulate, simulate_detailed

__all__ = ["CrossbarDataset", "SamplerConfig", "auto_chunk_size", "draw",
           "load_dataset", "simulate", "simulate_detailed"]
