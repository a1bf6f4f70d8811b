"""Benchmarks of the simulator: images/s per crossbar model (:mod:`.dnn`), the cost of the
non-idealities per MVM (:mod:`.nonideal`) and of fine-tuning per epoch (:mod:`.aware`),
each ``python -m functional_sim.bench.<name>``; ``make bench`` runs them all.

May import everything below it: spice_netlists, datagen, surrogate,
:mod:`functional_sim.sim` and :mod:`functional_sim.studies`. Nothing imports it.
"""
