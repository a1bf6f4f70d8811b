"""The surrogate's DVC stages and benchmarks, over the crossbar models of :mod:`surrogate`.

:mod:`.train` (``surrogate_train``: the GENIEx variants), :mod:`.evaluate`
(``surrogate_evaluate``: RMSE of every model against SPICE), :mod:`.ir_drop_map`
(``ir_drop_map``), their config (:mod:`.config`: the ``surrogate`` section) and plots
(:mod:`.plots`), and the benchmarks :mod:`.bench` (MVMs/s per model) and
:mod:`.circuit_bench` (the circuit solver against ngspice). Each stage and benchmark is
``python -m surrogate.stages.<name>``.

May import: spice_netlists, datagen and :mod:`surrogate`; never functional_sim. No stage
imports another stage.
"""
