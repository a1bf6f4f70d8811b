"""SPICE ground truth: (V, G) samplers, parallel and resumable ngspice sweeps, datasets.

``datagen.simulate(spec, v, g) -> currents``: v (M, rows) V, g (M, rows, cols) S ->
(M, cols) A from the real ngspice (NaN rows for samples that did not converge).
``datagen.load_dataset(directory)`` reads a sweep's dataset, each shard checked against
the sweep's manifest (:class:`DatasetError` names a missing or damaged one).

May import: :mod:`spice_netlists` (with :mod:`spice_netlists.circuit` for the circuit
engine, at run time only); never surrogate or functional_sim.
"""

from datagen.dataset import CrossbarDataset, DatasetError, load_dataset
from datagen.samplers import SamplerConfig, draw
from datagen.batch import auto_chunk_size, simulate, simulate_detailed

__all__ = ["CrossbarDataset", "DatasetError", "SamplerConfig", "auto_chunk_size", "draw",
           "load_dataset", "simulate", "simulate_detailed"]
