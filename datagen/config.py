"""The ``datagen`` section of params.yaml: what each sweep draws, how it runs, what solves it.

:class:`SweepConfig` is one sweep (``datagen.train``, ``datagen.test``, each
``datagen.held_out.<name>``, and the workload sweeps of ``functional_sim.studies.workload_data``);
:class:`DatagenParams` is the whole section (the crossbars of ``configs``, the two main
sweeps and the named held-out sets). Both are sections of the one config
system (:mod:`spice_netlists.config`): a bad value raises :class:`SweepFieldError` (a
:class:`~spice_netlists.config.ConfigError`) naming its params.yaml path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from datagen.engines import ENGINES
from datagen.fields import SweepFieldError
from datagen.samplers import SamplerConfig
from spice_netlists import CrossbarSpec, SpecError, load_spec_from_params
from spice_netlists.config import (ConfigError, check_choice, check_int, check_mapping,
                                   check_number, check_str, join_path)
from spice_netlists.netlist import SolverOptions
from spice_netlists.validation import CheckedSection

__all__ = ["DatagenParams", "SPLITS", "SweepConfig", "SweepFieldError", "default_held_out"]


@dataclass(frozen=True)
class SweepConfig(CheckedSection):
    """One sweep: how many samples of which sampler, chunking and parallelism, and what
    solves them.

    A bad value raises :class:`SweepFieldError` naming the field (``datagen.train.<field>``
    through :meth:`from_dict`).

    Attributes:
        n_samples: how many (V, G) samples the sweep simulates (integer >= 1).
        seed: the sweep's seed (integer >= 0); each chunk draws from (seed, chunk number).
        sampler: which sampler draws the samples, and its knobs (:class:`SamplerConfig`).
        chunk_size: samples per chunk, one ngspice process and one shard each (integer
            >= 0); 0 picks a size for the crossbar (:func:`auto_chunk_size`).
        workers: parallel chunks (integer >= 0); 0 uses every core (ngspice processes;
            the circuit engine runs its chunks in the sweep's process, torch using the
            cores).
        scheduler: a Dask scheduler address (``tcp://host:8786``) to run chunks on a
            cluster instead; '' for this machine.
        timeout_s: s, the bound on each ngspice process (a finite number > 0): a chunk
            that runs past it has its samples run one by one with the same bound, so
            ``h`` hung samples cost at most ``1 + h`` timeouts per chunk
            (:mod:`datagen.runner`).
        reltol: ngspice's relative tolerance (dimensionless, a finite number in (0, 1]).
        engine: what solves each chunk, a name in :data:`datagen.engines.ENGINES`:
            ``ngspice`` (default) or ``circuit`` (the circuit-exact solver of
            :mod:`spice_netlists.circuit.solver`, ~100x faster; same dataset format).
        check_fraction: the fraction (in [0, 1]) of samples a sweep with an engine other
            than ngspice re-solves in ngspice (at least one, drawn from the sweep seed);
            it fails when they deviate by more than :data:`datagen.engines.CHECK_TOLERANCE`.
    """

    error = SweepFieldError

    n_samples: int = 1000
    seed: int = 0
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    chunk_size: int = 0
    workers: int = 0
    scheduler: str = ""
    timeout_s: float = 600.0
    reltol: float = SolverOptions.reltol
    engine: str = "ngspice"
    check_fraction: float = 0.01

    def check(self) -> None:
        if isinstance(self.sampler, Mapping):
            self.set("sampler", SamplerConfig.from_dict(self.sampler, "sampler"))
        elif not isinstance(self.sampler, SamplerConfig):
            raise SweepFieldError("sampler", f"must be a mapping of sampler settings (e.g. "
                                             f"{{name: uniform}}), got {self.sampler!r}")
        check_int("n_samples", self.n_samples, low=1)
        for name in ("seed", "chunk_size", "workers"):
            check_int(name, getattr(self, name), low=0)
        if not isinstance(self.scheduler, str):
            raise SweepFieldError("scheduler", f"must be a Dask scheduler address (text, '' "
                                               f"for this machine), got {self.scheduler!r}")
        check_number("timeout_s", self.timeout_s, positive=True)
        SolverOptions.check("reltol", self.reltol)
        check_choice("engine", self.engine, ENGINES)
        check_number("check_fraction", self.check_fraction, low=0, high=1)

    def identity(self) -> dict[str, Any]:
        """What decides each chunk's samples and currents (the sample count, parallelism,
        timeouts and the check's size do not: a sweep grown to more samples keeps the
        chunks it has)."""
        d = asdict(self)
        d["sampler"] = self.sampler.identity()    # its later knobs only where set
        for k in ("n_samples", "workers", "scheduler", "timeout_s", "check_fraction"):
            d.pop(k)
        if self.engine == "ngspice":
            d.pop("engine")   # as stamped before engines existed: ngspice datasets stay valid
        else:
            d.pop("reltol")   # ngspice's tolerance decides only the check, not the data
        return d



#: the directories of the main sweeps of each crossbar, ``<out_dir>/<tag>/<split>``
SPLITS = ("train", "test")

#: samples of each default held-out set
HELD_OUT_SAMPLES = 500


def default_held_out() -> dict[str, SweepConfig]:
    """The default held-out sets, solved by the circuit engine (checked against ngspice
    on ``check_fraction`` of the samples):

    - ``sparse_bitlevel``: what 1-bit input streams over 2-bit weight slices apply,
      input and weight sparsity 0.6..0.95 (the bitlevel sampler);
    - ``dense``: every input and device on, inputs binary, on DAC levels or continuous,
      conductances biased high (the coverage sampler, sparsity 0, per-sample mean
      conductance position 0.6..0.95).
    """
    sparse = SamplerConfig(name="bitlevel", input_bits=1, weight_bits=2,
                           min_input_sparsity=0.6, max_input_sparsity=0.95,
                           min_weight_sparsity=0.6, max_weight_sparsity=0.95)
    dense = SamplerConfig(name="coverage", input_bits=4, weight_bits=2,
                          max_input_sparsity=0.0, max_weight_sparsity=0.0,
                          g_mean_low=0.6, g_mean_high=0.95)
    return {"sparse_bitlevel": SweepConfig(n_samples=HELD_OUT_SAMPLES, seed=101, sampler=sparse,
                                           engine="circuit"),
            "dense": SweepConfig(n_samples=HELD_OUT_SAMPLES, seed=102, sampler=dense,
                                 engine="circuit")}


@dataclass(frozen=True)
class DatagenParams(CheckedSection):
    """The ``datagen`` section of params.yaml.

    A bad value raises :class:`SweepFieldError` naming ``datagen.<field>``.

    Attributes:
        configs: crossbar overrides (mappings of ``crossbar`` fields), one dataset pair
            each; ``{}`` is the ``crossbar`` section as it is.
        train: the training sweep of each crossbar (:class:`SweepConfig`).
        test: the held-out test sweep of each crossbar; its seed must differ from train's.
        held_out: named held-out test sweeps of each crossbar, name -> :class:`SweepConfig`
            (the fields of ``train``), written to ``<out_dir>/<tag>/<name>`` beside
            ``train`` and ``test``; every model is scored on each of them (labelled
            ``<label>/<name>``, :mod:`surrogate.stages.evaluate`). A name is non-empty text
            without ``/``, not ``train`` or ``test``; a set may not repeat train's seed
            with train's sampler. Default: ``sparse_bitlevel`` (bit-level reads at input
            and weight sparsity 0.6..0.95) and ``dense`` (the coverage sampler at
            sparsity 0 with conductances biased high), 500 samples each, circuit engine
            (:func:`default_held_out`); ``{}`` for none.
        out_dir: the directory the datasets go to, ``<out_dir>/<tag>/{train,test,<held-out
            name>}``.
    """

    error = SweepFieldError

    configs: tuple[dict, ...] = ({},)
    train: SweepConfig = field(default_factory=lambda: SweepConfig(n_samples=2000, seed=0))
    test: SweepConfig = field(default_factory=lambda: SweepConfig(n_samples=400, seed=1))
    held_out: dict[str, SweepConfig] = field(default_factory=lambda: default_held_out())
    out_dir: str = "data/spice"

    @classmethod
    def from_dict(cls, data: Any, path: str = "datagen") -> "DatagenParams":
        """The section from its params.yaml mapping (errors name ``datagen.<field>``).

        ``held_out`` (a mapping of sweeps, which the base reader would take for one
        sweep) is laid over the rest once that is read, and checked by :meth:`check`."""
        if not isinstance(data, Mapping) or "held_out" not in data:
            return super().from_dict(data, path)
        rest = {k: v for k, v in data.items() if k != "held_out"}
        section = super().from_dict(rest, path)
        try:
            return replace(section, held_out=data["held_out"])
        except ConfigError as err:
            raise err.under(path) from None

    def check(self) -> None:
        configs = self.configs
        if isinstance(configs, list):
            configs = tuple(configs)
        if not isinstance(configs, tuple):
            raise SweepFieldError("configs", f"must be a list of crossbar overrides (mappings; "
                                             f"{{}} for the crossbar section as it is), got "
                                             f"{configs!r}")
        if not configs:
            raise SweepFieldError("configs", "must list at least one crossbar (e.g. [{}])")
        for k, c in enumerate(configs):
            if not isinstance(c, Mapping):
                raise SweepFieldError(f"configs[{k}]", f"must be a mapping of crossbar "
                                                       f"overrides, got {c!r}")
            bad = [key for key in c if not isinstance(key, str)]
            if bad:
                raise SweepFieldError(f"configs[{k}]", f"has keys that are not crossbar field "
                                                       f"names: {bad!r}")
        self.set("configs", tuple(dict(c) for c in configs))
        for split in ("train", "test"):
            value = getattr(self, split)
            if isinstance(value, Mapping):
                self.set(split, SweepConfig.from_dict(value, split))
            elif not isinstance(value, SweepConfig):
                raise SweepFieldError(split, f"must be a mapping of sweep settings, got "
                                             f"{value!r}")
        check_str("out_dir", self.out_dir, nonempty=True)
        if self.train.seed == self.test.seed:
            raise SweepFieldError("test.seed", f"must differ from train.seed (the test set "
                                               f"would repeat the training samples), both "
                                               f"are {self.train.seed!r}")
        self.set("held_out", self._checked_held_out())

    def _checked_held_out(self) -> dict[str, SweepConfig]:
        """``held_out`` with each entry a checked :class:`SweepConfig` (errors name
        ``held_out.<name>.<field>``); ``None`` is no set."""
        held_out = {} if self.held_out is None else self.held_out
        if not isinstance(held_out, Mapping):
            raise SweepFieldError("held_out", f"must be a mapping of held-out test sweeps "
                                              f"(name -> sweep settings), got {held_out!r}")
        out: dict[str, SweepConfig] = {}
        for name, value in held_out.items():
            if not isinstance(name, str) or not name or "/" in name or name in SPLITS:
                raise SweepFieldError("held_out", f": bad set name {name!r} (non-empty text "
                                                  f"without '/', not {' or '.join(SPLITS)}: "
                                                  f"it names a directory beside them)")
            at = f"held_out.{name}"
            if isinstance(value, Mapping):
                value = SweepConfig.from_dict(value, at)
            elif not isinstance(value, SweepConfig):
                raise SweepFieldError(at, f"must be a mapping of sweep settings, got {value!r}")
            if value.seed == self.train.seed and value.sampler == self.train.sampler:
                raise SweepFieldError(f"{at}.seed", f"must differ from train.seed when the "
                                                    f"sampler is train's (the set would repeat "
                                                    f"the training samples), both are "
                                                    f"{value.seed!r}")
            out[name] = value
        return out

    def sweeps(self) -> dict[str, SweepConfig]:
        """Every sweep of a crossbar by its directory name: ``train``, ``test``, then
        each held-out set."""
        return {"train": self.train, "test": self.test, **self.held_out}

    def specs(self, params: Mapping[str, Any]) -> list[CrossbarSpec]:
        """The crossbar spec of each entry of ``configs``: params.yaml's ``crossbar``
        section with the entry's overrides. An override that makes an invalid spec
        raises :class:`SweepFieldError` naming ``datagen.configs[k]``; a bad ``crossbar``
        section itself raises :class:`spice_netlists.SpecError`."""
        if not isinstance(params, Mapping) or not isinstance(params.get("crossbar"), Mapping):
            got = params.get("crossbar") if isinstance(params, Mapping) else params
            raise SpecError("crossbar", f"(params.yaml's section) must be a mapping of "
                                        f"crossbar parameters, got {got!r}")
        load_spec_from_params(params)           # the crossbar section itself: its error
        known = [f.name for f in fields(CrossbarSpec)]
        out = []
        for k, overrides in enumerate(self.configs):
            at = f"datagen.configs[{k}]"
            try:
                check_mapping(at, overrides, known, "crossbar overrides")
                out.append(load_spec_from_params(params, **overrides))
            except ConfigError as exc:
                if exc.path.startswith("crossbar."):
                    field_path = exc.path[len("crossbar."):]
                    if field_path.split(".")[0] in overrides:    # the override's own value
                        raise SweepFieldError(join_path(at, field_path), exc.problem) from None
                    problem = f"gives an invalid crossbar: {exc}"
                else:
                    problem = exc.problem if exc.path == at else f"gives an invalid crossbar: {exc}"
                raise SweepFieldError(at, problem) from None
        return out


