"""The ``datagen`` section of params.yaml: what each sweep draws, how it runs, what solves it.

:class:`SweepConfig` is one sweep (``datagen.train``, ``datagen.test``, and the workload
sweeps of ``functional_sim.workload_data``); :class:`DatagenParams` is the whole section
(the crossbars of ``configs`` and the two sweeps). Both are sections of the one config
system (:mod:`spice_netlists.config`): a bad value raises :class:`SweepFieldError` (a
:class:`~spice_netlists.config.ConfigError`) naming its params.yaml path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from datagen.engines import ENGINES
from datagen.fields import SweepFieldError
from datagen.samplers import SamplerConfig
from spice_netlists import CrossbarSpec, SpecError, load_spec_from_params
from spice_netlists.config import (ConfigError, check_choice, check_int, check_mapping,
                                   check_number, check_str, join_path)
from spice_netlists.netlist import SolverOptions
from spice_netlists.validation import CheckedSection

__all__ = ["DatagenParams", "SweepConfig", "SweepFieldError"]


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
            :mod:`surrogate.circuit_solver`, ~100x faster; same dataset format).
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
        for k in ("n_samples", "workers", "scheduler", "timeout_s", "check_fraction"):
            d.pop(k)
        if self.engine == "ngspice":
            d.pop("engine")   # as stamped before engines existed: ngspice datasets stay valid
        else:
            d.pop("reltol")   # ngspice's tolerance decides only the check, not the data
        return d



@dataclass(frozen=True)
class DatagenParams(CheckedSection):
    """The ``datagen`` section of params.yaml.

    A bad value raises :class:`SweepFieldError` naming ``datagen.<field>``.

    Attributes:
        configs: crossbar overrides (mappings of ``crossbar`` fields), one dataset pair
            each; ``{}`` is the ``crossbar`` section as it is.
        train: the training sweep of each crossbar (:class:`SweepConfig`).
        test: the held-out test sweep of each crossbar; its seed must differ from train's.
        out_dir: the directory the datasets go to, ``<out_dir>/<tag>/{train,test}``.
    """

    error = SweepFieldError

    configs: tuple[dict, ...] = ({},)
    train: SweepConfig = field(default_factory=lambda: SweepConfig(n_samples=2000, seed=0))
    test: SweepConfig = field(default_factory=lambda: SweepConfig(n_samples=400, seed=1))
    out_dir: str = "data/spice"

    @classmethod
    def from_dict(cls, data: Any, path: str = "datagen") -> "DatagenParams":
        """The section from its params.yaml mapping (errors name ``datagen.<field>``)."""
        return super().from_dict(data, path)

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


