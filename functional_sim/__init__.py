"""Tiled, bit-sliced functional simulator of DNNs on memristive crossbars (after PUMA and
GENIEx).

``convert(module, SimConfig(...))`` maps a network's Linear and Conv2d layers onto
simulated crossbars driven by any :class:`surrogate.base.CrossbarModel`. The stages
``train_nets``, ``study`` and ``bench`` train the study's networks, measure their accuracy
per crossbar model and read voltage, and time the models; :mod:`functional_sim.workload`
samples the (V, G) pairs a network actually puts on its crossbars.
"""

from functional_sim.config import GroundTruthConfig, SimConfig, StudyConfig, TrainConfig
from functional_sim.convert import build_model, convert, set_crossbar_model, sim_layers
from functional_sim.layers import SimConv2d, SimLayer, SimLinear
from functional_sim.mapping import lossless_adc_bits

__all__ = ["GroundTruthConfig", "SimConfig", "StudyConfig", "TrainConfig",
           "build_model", "convert", "set_crossbar_model", "sim_layers", "SimConv2d",
           "SimLayer", "SimLinear", "lossless_adc_bits"]
