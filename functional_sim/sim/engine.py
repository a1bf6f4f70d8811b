"""The crossbar engine of one layer: an integer matmul computed on simulated tiles.

:class:`CrossbarMatmul` holds a layer's integer weights mapped onto a stack of tiles
(pairs × slices × row tiles × column tiles, see :mod:`functional_sim.sim.mapping`), prepares
them once per (device, dtype) with the crossbar model, and computes ``x_int @ qᵀ`` for
integer inputs by streaming digits through the DAC, the crossbar model and the ADC,
followed by digital shift-and-add. All tiles, slices and streams of a chunk of inputs go
through the model in one call.

Around the model sit the two steps every model shares (so that all of them, ngspice
included, compute on the same tiles): the tile layout (:mod:`functional_sim.sim.tile_layout`:
which physical row and column each logical one uses) and the non-idealities beyond the
wires (:mod:`functional_sim.sim.nonideal`: the conductances the devices hold, drawn once per
layer, and the readout's noise and errors).
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from functional_sim.sim import mapping
from functional_sim.sim.config import SimConfig
from functional_sim.sim.nf import NFMeter
from functional_sim.sim.nonideal import ProgrammedTiles, Readout, program_tiles
from functional_sim.sim.tile_layout import CALIBRATED, make_layout
from surrogate.base import CrossbarModel

#: called with (layer name, v (N, T, rows) volts, g (T, rows, cols) siemens) per model
#: call: the physical word-line voltages and the conductances the devices hold
Recorder = Callable[[str, torch.Tensor, torch.Tensor], None]


class CrossbarMatmul:
    """``x_int (B, K) -> x_int @ q.T (B, N)`` (int64) on simulated crossbars.

    Args:
        q: (N, K) signed integer weights (int64).
        cfg: the mapping and the tile spec.
        model: the crossbar model (its spec must be ``cfg.spec``).
        name: a label for recorders and error messages.
    """

    def __init__(self, q: torch.Tensor, cfg: SimConfig, model: CrossbarModel, name: str = "") -> None:
        self.cfg = cfg
        self.model = model
        self.name = name
        self.n_out, self.k_in = q.shape
        self.levels = mapping.encode_weights(q.to(torch.int64), cfg)  # P, S, RT, CT, rows, cols
        p, s, rt, ct, _, _ = self.levels.shape
        self.tile_dims = (p, s, rt, ct)
        # the row tile each flat tile (P, S, RT, CT order) reads its inputs from
        self.tile_row = torch.arange(rt).reshape(1, 1, rt, 1).expand(p, s, rt, ct).reshape(-1)
        spec = cfg.spec
        #: calibrated layouts wait for the first inputs (:meth:`calibrate`)
        self.layout = None if cfg.mapping in CALIBRATED else \
            make_layout(cfg.mapping, self.levels.reshape(-1, spec.rows, spec.cols))
        self._programmed: ProgrammedTiles | None = None
        self._prepared: dict[tuple[Any, ...], tuple[torch.Tensor, Any, Readout | None]] = {}
        self.recorder: Recorder | None = None
        #: where set, every read's NF (model currents against the ideal ones) is added
        self.nf_meter: NFMeter | None = None

    @property
    def n_tiles(self) -> int:
        """Crossbars used by the layer."""
        p, s, rt, ct = self.tile_dims
        return p * s * rt * ct

    def conductances(self, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        """The tile stack in siemens, as the model sees it: (T, rows, cols) in physical
        order (the layout applied), holding what the devices hold (non-idealities)."""
        return self._prepare(torch.device(device), dtype)[0]

    def calibrate(self, x: torch.Tensor) -> None:
        """Fix a calibrated layout (``mdm_activity``) from non-negative integer inputs
        ``x`` (B, K): each row's mean DAC digit. Once: later calls, and other mappings,
        change nothing."""
        if self.cfg.mapping not in CALIBRATED or self.layout is not None:
            return
        spec, cfg = self.cfg.spec, self.cfg
        rt = self.tile_dims[2]
        xp = torch.zeros(x.shape[0], rt * spec.rows, dtype=torch.int64, device=x.device)
        xp[:, : self.k_in] = x.clamp(min=0)
        digits = mapping.stream_digits(xp.reshape(-1, rt, spec.rows), cfg)   # NS, B, RT, rows
        activity = digits.to(torch.float64).mean(dim=(0, 1)).cpu()           # RT, rows
        self.layout = make_layout(cfg.mapping, self.levels.reshape(-1, spec.rows, spec.cols),
                                  activity.index_select(0, self.tile_row))

    def programmed(self) -> ProgrammedTiles:
        """The physical tiles' conductances (float64, CPU), drawn once per engine."""
        if self._programmed is None:
            spec = self.cfg.spec
            g = mapping.levels_to_conductance(self.levels, spec, self.cfg.bits_per_slice,
                                              torch.float64).reshape(-1, spec.rows, spec.cols)
            if self.layout is not None:
                g = self.layout.place(g)
            self._programmed = program_tiles(g, spec, self.cfg.nonideal, self.name)
        return self._programmed

    def set_model(self, model: CrossbarModel) -> None:
        """Use another crossbar model of the same spec (drops the prepared tiles)."""
        if model.spec != self.cfg.spec:
            raise ValueError(f"{self.name}: model spec {model.spec.label} differs from the "
                             f"layer's tile spec {self.cfg.spec.label}")
        self.model = model
        self._prepared.clear()

    def _prepare(self, device: torch.device, dtype: torch.dtype
                 ) -> tuple[torch.Tensor, Any, Readout | None]:
        """(g, the model's prepared tiles, the readout or None) on a device and dtype;
        the readout's read noise restarts here, i.e. with every model."""
        key = (device.type, device.index, dtype)
        if key not in self._prepared:
            cfg, spec = self.cfg, self.cfg.spec
            if cfg.mapping in CALIBRATED and self.layout is None:
                raise RuntimeError(f"{self.name}: the {cfg.mapping} layout is calibrated on the "
                                   f"first inputs: run the layer once before asking for its "
                                   f"conductances")
            if self.layout is None and not cfg.nonideal.programs_tiles:
                # the target conductances, computed as the model would see them
                g = mapping.levels_to_conductance(self.levels.to(device), spec,
                                                  cfg.bits_per_slice, dtype)
                g = g.reshape(-1, spec.rows, spec.cols)
                scale = sinh_a = None
            else:
                g, scale, sinh_a = self.programmed()
                g = g.to(device, dtype)
                sinh_a = None if sinh_a is None else sinh_a.to(device, dtype)
            readout = None
            if cfg.nonideal.active:
                lsb = spec.full_scale_current / ((1 << cfg.adc_bits) - 1)
                readout = Readout(cfg.nonideal, spec, g, lsb, self.name, scale)
            with torch.no_grad():
                prepared = self.model.prepare(g) if sinh_a is None else \
                    self.model.prepare_devices(g, sinh_a)
                self._prepared[key] = (g, prepared, readout)
        return self._prepared[key]

    def __call__(self, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Integer matmul of ``x`` (B, K) int64 (any sign) with the layer's weights.

        Negative inputs run as a second pass: ``x = x⁺ - x⁻``; only samples that have a
        negative value take the second pass.
        """
        if x.dim() != 2 or x.shape[1] != self.k_in:
            raise ValueError(f"{self.name}: expected integer inputs (B, {self.k_in}), got "
                             f"{tuple(x.shape)}")
        neg_rows = (x < 0).any(dim=1).nonzero().squeeze(1)
        if neg_rows.numel() == 0:
            return self._unsigned(x, dtype)
        both = torch.cat([x.clamp(min=0), (-x[neg_rows]).clamp(min=0)])
        out = self._unsigned(both, dtype)
        result = out[: x.shape[0]].clone()
        result.index_add_(0, neg_rows, -out[x.shape[0]:])
        return result

    def _check_finite(self, currents: torch.Tensor) -> None:
        if not bool(torch.isfinite(currents.sum())):
            bad = int((~torch.isfinite(currents)).sum())
            raise FloatingPointError(f"{self.name}: crossbar model {self.model.name} returned "
                                     f"{bad} non-finite column currents")

    def _stack_weights(self, ns: int, device: torch.device) -> torch.Tensor:
        """Shift-and-add weights (NS, S), float64: 2^(m·stream + k·slice)."""
        s = self.tile_dims[1]
        cfg = self.cfg
        stream = 2.0 ** (cfg.bits_per_stream * torch.arange(ns, dtype=torch.float64))
        slices = 2.0 ** (cfg.bits_per_slice * torch.arange(s, dtype=torch.float64))
        return (stream[:, None] * slices[None, :]).to(device)

    @torch.no_grad()
    def _unsigned(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The crossbar pipeline for non-negative integer inputs (B, K).

        Input vectors that are 0 V on every tile (common: zero activations, high-order
        streams) are not sent to the model: a passive crossbar with no drive carries no
        current, so their partial sums are 0. Non-finite model currents (e.g. a SPICE
        sample that did not converge) are an error.
        """
        spec, cfg = self.cfg.spec, self.cfg
        self.calibrate(x)                 # a calibrated layout, fixed on the first inputs
        g, prepared, readout = self._prepare(x.device, dtype)
        layout = self.layout
        digital_scale = None if readout is None else readout.digital_scale
        tile_row = self.tile_row.to(x.device)
        p, s, rt, ct = self.tile_dims
        rows, cols = spec.rows, spec.cols
        ns = mapping.n_streams(cfg)
        weights = self._stack_weights(ns, x.device)
        dv = mapping.voltage_step(spec, cfg.bits_per_stream)

        xp = torch.zeros(x.shape[0], rt * rows, dtype=torch.int64, device=x.device)
        xp[:, : self.k_in] = x
        xp = xp.reshape(x.shape[0], rt, rows)
        chunk = max(1, cfg.chunk_elements // (ns * self.n_tiles * max(rows, cols)))
        outs = []
        for start in range(0, x.shape[0], chunk):
            digits = mapping.stream_digits(xp[start:start + chunk], cfg)  # NS, b, RT, rows
            b = digits.shape[1]
            d = digits.reshape(ns * b, rt, rows).to(dtype)
            dsum = d.sum(-1)                                              # N, RT
            if self.recorder is not None:
                v_all = d.index_select(1, tile_row) * dv
                self.recorder(self.name, v_all if layout is None else layout.route_inputs(v_all), g)
            active = (dsum.sum(-1) > 0).nonzero().squeeze(1)
            psum = torch.zeros(ns * b, self.n_tiles, cols, dtype=dtype, device=x.device)
            if active.numel():
                v = d[active].index_select(1, tile_row).mul_(dv)            # Na, T, rows
                if layout is not None:
                    v = layout.route_inputs(v)
                currents = self.model.mvm(prepared, v).to(dtype)            # Na, T, cols
                self._check_finite(currents)
                if self.nf_meter is not None:
                    self.nf_meter.update(self.name, v, g, currents)
                if readout is not None and readout.analog_active:
                    currents = readout.analog(currents, v)
                if layout is not None:
                    currents = layout.read_back(currents)
                psum[active] = mapping.adc_partial_sums(
                    currents, dsum[active].index_select(1, tile_row), cfg, digital_scale)
            # pairs (±) and row tiles first, exact in any float dtype (small integers),
            # then the power-of-two shifts of slices and streams in float64
            psum = psum.reshape(ns, b, p, s, rt, ct, cols)
            psum = (psum[:, :, 0] - psum[:, :, 1]) if p == 2 else psum[:, :, 0]
            psum = psum.sum(dim=3).to(torch.float64)                      # NS, b, S, CT, cols
            y = torch.einsum("nbscj,ns->bcj", psum, weights)              # b, CT, cols
            if cfg.negative_weights == "offset":
                y = y[..., :-1] - y[..., -1:]
            outs.append(y.reshape(b, -1)[:, : self.n_out].round().to(torch.int64))
        return torch.cat(outs) if outs else torch.zeros(0, self.n_out, dtype=torch.int64,
                                                        device=x.device)
