"""Checks shared by every configuration of the project (specs, sweeps, models, studies).

:class:`CheckedSection` is the :class:`spice_netlists.config.ConfigSection` of a package
that raises its own subclass of :class:`spice_netlists.config.ConfigError` (``SpecError``,
``SweepFieldError``): its checks use the base's ``check_*`` functions, and whatever
:class:`ConfigError` they or ``from_dict`` raise comes out as the section's ``error``, with
the same path and problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from spice_netlists.config import ConfigError, ConfigSection

S = TypeVar("S", bound="CheckedSection")


def as_error(error: type[ConfigError], err: ConfigError) -> ConfigError:
    """``err`` as an ``error`` (itself when it already is one), same path and problem."""
    if isinstance(err, error):
        return err
    converted = error(err.path, err.problem)
    converted.__cause__ = err.__cause__
    return converted


@dataclass(frozen=True)
class CheckedSection(ConfigSection):
    """A config section whose errors are all its package's :class:`ConfigError` subclass.

    Subclasses set the class attribute ``error`` and put their checks in :meth:`check`
    (called by ``__post_init__``); a check names only the field, ``from_dict`` adds the
    section's path.
    """

    error = ConfigError

    def __post_init__(self) -> None:
        try:
            self.check()
        except ConfigError as err:
            raise as_error(type(self).error, err) from None

    def check(self) -> None:
        """Check (and normalise, with ``object.__setattr__``) the fields."""

    def set(self, name: str, value: Any) -> None:
        """Replace field ``name`` of this frozen section while it is being checked."""
        object.__setattr__(self, name, value)

    @classmethod
    def from_dict(cls: type[S], data: Any, path: str = "") -> S:
        try:
            return super().from_dict(data, path)
        except ConfigError as err:
            raise as_error(cls.error, err) from None
