"""How a network is mapped onto simulated crossbars: :class:`SimConfig`.

It holds the mapping (bit widths, slicing, streaming, ADC, negative-weight scheme, tile
layout, the non-idealities beyond the wires) and the tile's
:class:`~spice_netlists.CrossbarSpec`. The crossbar model is not part of it: it is built
once (``surrogate.make_model``) and passed to :func:`functional_sim.sim.convert` as an
object. params.yaml's ``functional_sim.sim`` section holds the mapping fields only
(:data:`SIM_PARAM_KEYS`); the physics comes from the ``crossbar`` section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from functional_sim.sim.nonideal_config import NonidealConfig
from functional_sim.sim.tile_layout import MAPPINGS
from spice_netlists import CrossbarSpec
from spice_netlists.config import ConfigError, ConfigSection, check_choice, check_int

__all__ = ["SimConfig", "SIM_PARAM_KEYS", "NEGATIVE_WEIGHT_SCHEMES", "WEIGHT_SCALES"]

NEGATIVE_WEIGHT_SCHEMES = ("differential", "offset")
WEIGHT_SCALES = ("per_layer", "per_channel")

#: the SimConfig fields that live in params.yaml's ``functional_sim.sim`` section
SIM_PARAM_KEYS = ("weight_bits", "input_bits", "bits_per_slice", "bits_per_stream",
                  "adc_bits", "negative_weights", "weight_scale", "mapping", "nonideal")


@dataclass(frozen=True)
class SimConfig(ConfigSection):
    """How a network's layers are mapped onto simulated crossbars.

    Attributes:
        weight_bits: signed weight width; weights are quantised symmetrically to
            integers in [-(2^(b-1)-1), 2^(b-1)-1].
        input_bits: activation width. A sample with no negative value uses all bits
            for its magnitude (0..2^b-1); a sample with negative values is signed
            (magnitude 0..2^(b-1)-1) and is run in two passes, x = x⁺ - x⁻.
        bits_per_slice: bits stored per crossbar cell (one crossbar per slice).
        bits_per_stream: bits per DAC step (inputs streamed this many bits at a time).
        adc_bits: ADC resolution over the spec's full-scale current
            (rows·g_on·v_read_max). :func:`functional_sim.sim.mapping.lossless_adc_bits`
            gives the smallest width that is exact for the ideal crossbar.
        negative_weights: ``differential`` (a W⁺ and a W⁻ crossbar per slice) or
            ``offset`` (weights stored as q + 2^(b-1); the last column of every tile
            is a reference column holding 2^(b-1), subtracted digitally after the ADC).
        weight_scale: ``per_layer`` or ``per_channel`` (one scale per output).
        mapping: where each tile's rows and columns sit on the physical crossbar:
            ``identity``, ``mdm`` (Manhattan Distance Mapping) or ``mdm_activity`` (MDM
            weighted by each row's mean input, calibrated on the first batch;
            :mod:`functional_sim.sim.tile_layout`); the ideal result is the same for all.
        nonideal: the non-idealities beyond the wires (programming error, read noise,
            stuck-at faults, drift, finite levels, ADC errors;
            :mod:`functional_sim.sim.nonideal_config`), applied to every tile before the
            crossbar model sees it; all off by default.
        spec: the physics of one tile (not in params.yaml's ``functional_sim.sim``: it
            comes from the ``crossbar`` section).
        chunk_elements: memory bound: crossbar inputs are sent to the model in chunks
            of at most about this many voltage elements.
    """

    weight_bits: int = 8
    input_bits: int = 8
    bits_per_slice: int = 2
    bits_per_stream: int = 1
    adc_bits: int = 8
    negative_weights: str = "differential"
    weight_scale: str = "per_channel"
    mapping: str = "identity"
    nonideal: NonidealConfig = field(default_factory=NonidealConfig)
    spec: CrossbarSpec = field(default_factory=CrossbarSpec)
    chunk_elements: int = 1 << 22

    def __post_init__(self) -> None:
        check_int("weight_bits", self.weight_bits, 2, 16)
        check_int("input_bits", self.input_bits, 2, 16)
        check_int("bits_per_slice", self.bits_per_slice, 1, 8)
        check_int("bits_per_stream", self.bits_per_stream, 1, 8)
        check_int("adc_bits", self.adc_bits, 1, 32)
        check_int("chunk_elements", self.chunk_elements, 1)
        check_choice("negative_weights", self.negative_weights, NEGATIVE_WEIGHT_SCHEMES)
        check_choice("weight_scale", self.weight_scale, WEIGHT_SCALES)
        check_choice("mapping", self.mapping, tuple(MAPPINGS))
        if isinstance(self.nonideal, Mapping):
            object.__setattr__(self, "nonideal", NonidealConfig.from_dict(self.nonideal, "nonideal"))
        elif not isinstance(self.nonideal, NonidealConfig):
            raise ConfigError("nonideal", f"must be a mapping of settings, got {self.nonideal!r}")
        if isinstance(self.spec, Mapping):
            object.__setattr__(self, "spec", CrossbarSpec.from_dict(self.spec))
        elif not isinstance(self.spec, CrossbarSpec):
            raise ConfigError("spec", f"must be a CrossbarSpec, got {self.spec!r}")
        if self.negative_weights == "offset" and self.spec.cols < 2:
            raise ConfigError("negative_weights", f": the offset scheme needs a reference "
                              f"column, so spec.cols must be >= 2, got {self.spec.cols}")

    @property
    def cols_per_tile(self) -> int:
        """Weight columns (layer outputs) per tile: all columns, less the reference
        column of the offset scheme."""
        return self.spec.cols - (1 if self.negative_weights == "offset" else 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only; inverse of :meth:`from_dict`."""
        data = super().to_dict()
        data["spec"] = self.spec.to_dict()
        return data

    def param_dict(self) -> dict[str, Any]:
        """The fields stored in params.yaml's ``functional_sim.sim`` section (plain types)."""
        data = self.to_dict()
        return {k: data[k] for k in SIM_PARAM_KEYS}
