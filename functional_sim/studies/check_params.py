"""Stage ``check_params``: read and check every section of a params file before any other
stage starts work.

DVC removes a stage's outputs (those not marked ``persist``) just before it runs the
stage. A bad value given to an experiment (``dvc exp run -S
functional_sim.sim.nonideal.programming.sigma=-0.1``) used to be found only by the stage
that reads it, after the stages before it had run and its own outputs were gone. Every
stage of ``dvc.yaml`` depends on this stage's output, so DVC runs it first whenever a
param changed, and a bad value stops the pipeline before anything is removed. Its output
(``reports/params_check.txt``) is one constant line, whatever the params, so a good
change makes no other stage rerun that would not rerun anyway.

What it checks, each with the reader its stage uses: the ``crossbar`` spec, ``datagen``
(with the specs of its configs), ``surrogate``, and ``functional_sim`` (the study, its
tile settings, the settings the sensitivity study, aware training and the ground truth's
SPICE check picks, and aware training's non-idealities laid over the study's).

``python -m functional_sim.studies.check_params --params params.yaml --out
reports/params_check.txt``: exit status 2 and one line naming the bad value's path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Mapping

from datagen.config import DatagenParams
from functional_sim.studies.aware_training_config import merge_nonideal
from functional_sim.studies.config import pick_setting, read_params, study_config, study_specs
from functional_sim.studies.ground_truth import spice_check_specs
from functional_sim.studies.stage import write_output
from spice_netlists import SpecError, load_spec_from_params
from spice_netlists.config import ConfigError, section
from surrogate.stages.config import load_params as load_surrogate_params

__all__ = ["CHECKED", "check_params", "main"]

#: the line the stage writes (the same for every good params file)
CHECKED = "params checked: crossbar, datagen, surrogate, functional_sim\n"


def check_params(path: str | Path) -> Mapping[str, Any]:
    """Read the params file at ``path`` and check every section as its stages will;
    returns the params. Raises :class:`ConfigError` (or ``SpecError``) naming the bad
    value's dotted path."""
    params = read_params(path)
    load_spec_from_params(params)
    DatagenParams.from_dict(section(params, "datagen"), "datagen").specs(params)
    surrogate = load_surrogate_params(path)
    if surrogate.scaling.enabled:             # each variant's overrides, and each setting
        surrogate.scaling.variant_configs(surrogate.variants["geniex"])
        crossbar = load_spec_from_params(params)
        for size in surrogate.scaling.sizes:
            crossbar.with_overrides({**surrogate.scaling.setting, "rows": size, "cols": size},
                                    "surrogate.scaling.setting")
    cfg = study_config(params)
    specs = study_specs(params, cfg)
    if cfg.sensitivity.enabled:
        pick_setting(cfg.sensitivity.setting, specs, "functional_sim.sensitivity.setting")
    if cfg.aware_training.enabled:
        pick_setting(cfg.aware_training.setting, specs, "functional_sim.aware_training.setting")
        merge_nonideal(cfg.sim.nonideal, cfg.aware_training.nonideal,
                       "functional_sim.aware_training.nonideal")
    if cfg.ground_truth.enabled:
        spice_check_specs(cfg.ground_truth.spice_check_settings, specs)
    return params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="reports/params_check.txt")
    args = parser.parse_args(argv)
    try:
        check_params(args.params)
    except (ConfigError, SpecError) as exc:
        print(f"check_params: {args.params}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    write_output(args.out, CHECKED)
    print(CHECKED, end="")


if __name__ == "__main__":
    main()
