"""The exact DC operating point of a whole crossbar, in torch: every parasitic of the
:class:`~spice_netlists.CrossbarSpec` and each device's I–V solved together (batched,
float64, CPU or CUDA, differentiable). The same physics as the netlists, ngspice's answer
~100× faster; validated against ngspice.

:mod:`.devices` (the cell laws: linear, sinh, 1T1R), :mod:`.network` (the wire
operators), :mod:`.solver` (Newton–CG with implicit gradients). The ``circuit`` crossbar
model (:mod:`surrogate.circuit`) and datagen's circuit engine use it.

May import: :mod:`spice_netlists` and torch only. ``import spice_netlists`` does not load
this subpackage, so ngspice sweeps and their worker processes never import torch.
"""
