"""Tiled, bit-sliced functional simulator of DNNs on memristive crossbars (after PUMA and
GENIEx).

Three subpackages, one floor each:

- :mod:`functional_sim.sim`: the simulator core (``convert(module, SimConfig(...),
  model)`` on any ``nn.Module``), re-exported here; it imports nothing from the two
  below.
- :mod:`functional_sim.studies`: the DVC stages over the core (networks and data, the
  accuracy study, the ground truth, sensitivity, aware training, workload data), their
  configs and reports.
- :mod:`functional_sim.bench`: benchmarks of the core and the stages.
"""

from functional_sim.sim import (SimConfig, SimConv2d, SimLayer, SimLinear, convert,
                                lossless_adc_bits, set_crossbar_model, sim_layers)

__all__ = ["SimConfig", "convert", "set_crossbar_model", "sim_layers", "SimConv2d",
           "SimLayer", "SimLinear", "lossless_adc_bits"]
