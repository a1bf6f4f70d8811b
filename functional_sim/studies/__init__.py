"""The DVC stages over the simulator core, with their configs and reports.

Stage modules (each ``python -m functional_sim.studies.<stage>``): :mod:`.train_nets`,
:mod:`.workload_data`, :mod:`.accuracy_study`, :mod:`.ground_truth`,
:mod:`.sensitivity`, :mod:`.aware_training`. What they share lives in modules of their
own, never in a stage: :mod:`.config` (the ``functional_sim`` section and the params
reader), :mod:`.stage` (the CLI arguments, reading the study, building a crossbar model
by name), :mod:`.nets`, :mod:`.data`, :mod:`.inference`, :mod:`.workload`,
:mod:`.accuracy_stats`, :mod:`.plots`, :mod:`.ground_truth_report` and the stage configs
:mod:`.sensitivity_config`, :mod:`.aware_training_config`.

May import: spice_netlists, datagen, surrogate and :mod:`functional_sim.sim`; never
:mod:`functional_sim.bench`. No stage imports another stage.
"""
