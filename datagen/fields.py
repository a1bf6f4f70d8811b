"""The error of a bad datagen config value, naming the field's path in params.yaml.

Every datagen config section (:class:`datagen.samplers.SamplerConfig`,
:class:`datagen.config.SweepConfig`, :class:`datagen.config.DatagenParams`) is a
:class:`spice_netlists.config.ConfigSection` checked with the base's ``check_*``
functions; what they refuse comes out as :class:`SweepFieldError`, a
:class:`spice_netlists.config.ConfigError` whose message names the path
(``datagen.train.sampler.name``, ``datagen.configs[1].rows``).
"""

from __future__ import annotations

from spice_netlists.config import ConfigError


class SweepFieldError(ConfigError):
    """A datagen config field with a bad value; its message names the field's path (the
    field alone for a section built directly, ``datagen.train.<name>`` where params.yaml
    is read) and the value.

    Attributes:
        path: the dotted path of the bad value.
        problem: what is wrong, with the value given.
    """
