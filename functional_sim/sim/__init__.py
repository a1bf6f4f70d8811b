"""The simulator core: a tiled, bit-sliced DNN simulator on memristive crossbars (after
PUMA and GENIEx).

``convert(module, SimConfig(spec=spec), model)`` maps any ``torch.nn.Module``'s Linear and
Conv2d layers onto simulated crossbars computed by ``model``, any
:class:`surrogate.base.CrossbarModel` (built once, e.g. ``surrogate.make_model(name,
spec)``). The modules: :mod:`.config` (:class:`SimConfig`), :mod:`.convert`,
:mod:`.layers`, :mod:`.engine` (a layer's integer matmul on tiles), :mod:`.mapping`
(weights to tiles, DAC, ADC), :mod:`.quant`, :mod:`.tile_layout` (identity, MDM),
:mod:`.nonideal_config` / :mod:`.nonideal` (the non-idealities beyond the wires) and
:mod:`.nf` (nonideality factor).

May import: spice_netlists, surrogate (the model interface) and torch; never
``functional_sim.studies`` or ``functional_sim.bench``, so that a notebook can use the
core alone.
"""

from functional_sim.sim.config import SimConfig
from functional_sim.sim.convert import convert, set_crossbar_model, sim_layers
from functional_sim.sim.layers import SimConv2d, SimLayer, SimLinear
from functional_sim.sim.mapping import lossless_adc_bits

__all__ = ["SimConfig", "convert", "set_crossbar_model", "sim_layers", "SimConv2d",
           "SimLayer", "SimLinear", "lossless_adc_bits"]
