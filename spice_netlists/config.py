"""The one configuration system: typed sections that read, check and round-trip params.yaml.

Every section of params.yaml (``crossbar``, ``datagen.train``, ``surrogate``,
``functional_sim.sim``, …) is a frozen dataclass deriving from :class:`ConfigSection`:

* **One conversion.** ``Section.from_dict(mapping, path)`` refuses a non-mapping and
  unknown keys, builds nested sections (fields whose type is a section) from their own
  mappings, and converts lists to tuples where the field says ``tuple``.
* **One error.** Every bad value raises :class:`ConfigError` naming the value's dotted
  path in params.yaml, e.g. ``datagen.train.timeout_s must be > 0, got -1``. A
  section's own checks (in ``__post_init__``) name only the field; the reader that knows
  where the section sits adds the rest of the path.
* **Round trip.** ``section.to_dict()`` gives plain YAML types that ``from_dict`` reads
  back to an equal section.
* **Dotted overrides.** ``section.with_overrides({"sampler.name": "bitlevel"})``, as
  ``dvc exp run -S`` writes them; the result is checked again.
* **A docstring per field.** Each section documents its fields in an ``Attributes:``
  block of its class docstring (:meth:`ConfigSection.field_docs`; a test checks that no
  field is undocumented).

The small checks (:func:`check_number`, :func:`check_int`, :func:`check_choice`,
:func:`check_bool`, :func:`check_str`) return the value and raise :class:`ConfigError`
naming the field. :func:`read_params` is the one reader of a params file.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, TypeVar

import yaml

T = TypeVar("T", bound="ConfigSection")


class ConfigError(ValueError):
    """A configuration value is bad; the message names its dotted path and the value.

    Attributes:
        path: the dotted path of the bad value ('' for the whole file).
        problem: what is wrong, with the value given (starts with ':' when it reads
            better right after the path, as in ``datagen: unknown key(s) …``).
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        sep = "" if problem.startswith(":") or not path else " "
        super().__init__(f"{path}{sep}{problem}")

    def under(self, prefix: str) -> "ConfigError":
        """The same error, its path placed under ``prefix`` (a section's path)."""
        path = join_path(prefix, self.path)
        return type(self)(path, self.problem) if _two_arg(type(self)) else ConfigError(path, self.problem)


def _two_arg(cls: type) -> bool:
    """Whether ``cls(path, problem)`` builds an error of that subclass."""
    return cls.__init__ is ConfigError.__init__


def join_path(*parts: str) -> str:
    """``a.b[0].c`` from ``("a", "b[0]", "c")``; empty parts are skipped."""
    out = ""
    for part in parts:
        if not part:
            continue
        out = part if not out else (f"{out}{part}" if part.startswith("[") else f"{out}.{part}")
    return out


# ----------------------------------------------------------------------------- checks
def check_number(name: str, value: Any, *, positive: bool = False, nonnegative: bool = False,
                 low: float | None = None, high: float | None = None) -> float:
    """``value`` as a finite float, else :class:`ConfigError` at ``name``. Booleans and
    strings are not numbers; ``low``/``high`` bound it inclusively."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(name, f"must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(name, f"must be finite, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(name, f"must be > 0, got {value!r}")
    if nonnegative and value < 0:
        raise ConfigError(name, f"must be >= 0, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(name, f"must be in [{low}, {high}], got {value!r}")
    return value


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int within [low, high], else :class:`ConfigError` at ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bound = f">= {low}" if high is None else (f"<= {high}" if low is None else f"in [{low}, {high}]")
        raise ConfigError(name, f"must be {bound}, got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``, else :class:`ConfigError` at ``name``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is true or false, else :class:`ConfigError` at ``name``."""
    if not isinstance(value, bool):
        raise ConfigError(name, f"must be true or false, got {value!r}")
    return value


def check_str(name: str, value: Any, *, nonempty: bool = False) -> str:
    """``value`` if it is a string (non-empty when asked), else :class:`ConfigError`."""
    if not isinstance(value, str) or (nonempty and not value):
        raise ConfigError(name, f"must be a{' non-empty' if nonempty else ''} string, got {value!r}")
    return value


def check_mapping(path: str, data: Any, known: Iterable[str], what: str = "settings") -> None:
    """Raise :class:`ConfigError` at ``path`` unless ``data`` is a mapping whose keys are
    all in ``known``."""
    if not isinstance(data, Mapping):
        raise ConfigError(path, f"must be a mapping of {what}, got {data!r}")
    names = set(known)
    unknown = sorted(set(data) - names, key=str)
    if unknown:
        raise ConfigError(path, f": unknown key(s) {unknown}; known: {sorted(names)}")



def check_str_list(name: str, value: Any) -> tuple[str, ...]:
    """``value`` as a tuple of non-empty strings: a list, not one string, else
    :class:`ConfigError` at ``name`` (each bad item named ``name[k]``)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(name, f"must be a list of names, got {value!r}")
    return tuple(check_str(f"{name}[{k}]", item, nonempty=True) for k, item in enumerate(value))


def check_names(name: str, value: Any, choices: Iterable[str], what: str) -> tuple[str, ...]:
    """``value`` as a tuple of names from ``choices`` (a list, not one string; ``what``
    says what they name in the message), else :class:`ConfigError` at ``name``."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(name, f"must be a list of {what}, got {value!r}")
    choices = tuple(choices)
    for item in value:
        check_choice(name, item, choices)
    return tuple(value)

# ----------------------------------------------------------------------------- sections
def _section_type(hint: Any) -> type | None:
    """The ConfigSection class a field holds, if its type hint names one (``X`` or
    ``X | None``)."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for cand in (hint, *(typing.get_args(hint) if union else ())):
        if isinstance(cand, type) and issubclass(cand, ConfigSection):
            return cand
    return None


def _is_tuple(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    return hint is tuple or origin is tuple


@dataclass(frozen=True)
class ConfigSection:
    """Base of every configuration section (see the module docstring)."""

    @classmethod
    def from_dict(cls: type[T], data: Any, path: str = "") -> T:
        """Build the section at ``path`` from a mapping, checked (module docstring)."""
        names = [f.name for f in fields(cls) if f.init]
        check_mapping(path or cls.__name__, data, names)
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            hint = hints.get(name)
            sub = _section_type(hint)
            if sub is not None and value is not None and not isinstance(value, ConfigSection):
                value = sub.from_dict(value, join_path(path, name))
            elif _is_tuple(hint) and isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        try:
            return cls(**kwargs)
        except ConfigError as err:
            raise err.under(path) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML types (tuples as lists, nested sections as mappings)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.init}

    def with_overrides(self: T, overrides: Mapping[str, Any], path: str = "") -> T:
        """A copy with dotted-path ``overrides`` applied (``{"sampler.name": "bitlevel"}``),
        checked again; an unknown path is an error naming it."""
        data = self.to_dict()
        for dotted, value in overrides.items():
            keys = dotted.split(".")
            node = data
            for depth, key in enumerate(keys):
                if not isinstance(node, dict) or key not in node:
                    raise ConfigError(join_path(path, *keys[:depth + 1]),
                                      ": no such setting to override")
                if depth == len(keys) - 1:
                    node[key] = value
                else:
                    node = node[key]
        return self._rebuild(data, path)

    def _rebuild(self: T, data: dict[str, Any], path: str) -> T:
        """The section :meth:`with_overrides` returns, from its overridden ``to_dict``
        (a section with fields read elsewhere in params.yaml keeps them here)."""
        return type(self).from_dict(data, path)

    def with_(self: T, **changes: Any) -> T:
        """A copy with some fields replaced (checked again by the constructor)."""
        return replace(self, **changes)

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """Each field's documentation, from the ``Attributes:`` block of the class
        docstring (``name: text`` or ``name, other: text`` lines)."""
        doc = cls.__doc__ or ""
        block = doc.split("Attributes:", 1)[1] if "Attributes:" in doc else ""
        out: dict[str, str] = {}
        current: list[str] = []
        for line in block.splitlines():
            m = re.match(r"^\s{4,8}([A-Za-z_][\w, ]*):\s*(.*)$", line)
            if m and not line.startswith(" " * 12):
                current = [n.strip() for n in m.group(1).split(",")]
                for name in current:
                    out[name] = m.group(2).strip()
            elif current and line.strip():
                for name in current:
                    out[name] = f"{out[name]} {line.strip()}".strip()
        return out

    @classmethod
    def undocumented_fields(cls) -> list[str]:
        """Fields missing from :meth:`field_docs`."""
        docs = cls.field_docs()
        return [f.name for f in fields(cls) if f.init and not docs.get(f.name)]


def _plain(value: Any) -> Any:
    if isinstance(value, ConfigSection):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


class ParamsLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's floats: ``4e-05`` is a number, as DVC (whose
    ``dvc exp run -S`` writes params.yaml) and YAML 1.2 read it, not the string YAML 1.1
    makes of an exponent without a decimal point."""


ParamsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)$"),
    list("-+0123456789"))


def read_params(path: str | Path) -> dict[str, Any]:
    """The mapping a params file holds; :class:`ConfigError` naming the file when it is
    missing, not YAML, empty or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("", f"params file {str(path)!r} does not exist")
    try:
        data = yaml.load(path.read_text(), Loader=ParamsLoader)
    except yaml.YAMLError as err:
        raise ConfigError("", f"params file {str(path)!r} is not valid YAML: {err}") from None
    if not isinstance(data, Mapping) or not data:
        raise ConfigError("", f"params file {str(path)!r} must hold a non-empty mapping of "
                              f"sections, got {data!r}")
    return dict(data)


def section(params: Mapping[str, Any], dotted: str, required: bool = False) -> Any:
    """The value at ``dotted`` (``"functional_sim.sim"``) of a params mapping; ``{}`` when
    absent (or :class:`ConfigError` when ``required``); an intermediate that is not a
    mapping is an error naming it."""
    node: Any = params
    walked: list[str] = []
    for key in dotted.split("."):
        if not isinstance(node, Mapping):
            raise ConfigError(".".join(walked), f"must be a mapping of settings, got {node!r}")
        walked.append(key)
        if key not in node or node[key] is None:
            if required:
                raise ConfigError(".".join(walked), ": missing section")
            return {}
        node = node[key]
    return node
