"""Linear and Conv2d layers that compute on simulated crossbars.

Each layer keeps the original ``weight`` and ``bias`` parameters (so state dicts are
unchanged), quantises the weights once (re-done automatically if they change), and in
``forward`` quantises its input per sample (:mod:`functional_sim.sim.quant`), runs the
integer matmul on its :class:`~functional_sim.sim.engine.CrossbarMatmul`, dequantises
(``y = acc · s_x · s_w``) and adds the bias digitally. Conv2d is lowered to a matmul with
``unfold`` (im2col); the weight matrix is ``weight.reshape(out_channels, -1)``, whose
column order matches ``unfold``'s.

**Training through the crossbars** (non-ideality-aware fine-tuning): while a layer is in
training mode and gradients are on, its output is the crossbar simulation's in value,
with the gradient of the fake-quantised float layer (:func:`straight_through`): the
quantisation, the DAC, the crossbar model and the ADC pass gradients straight through.
The loss thus sees what the crossbar model computes, non-idealities included; in eval
mode, or under ``torch.no_grad``, nothing changes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from functional_sim.sim.config import SimConfig
from functional_sim.sim.engine import CrossbarMatmul
from functional_sim.sim.quant import quantize_inputs, quantize_weights
from surrogate.base import CrossbarModel


def fake_quantized(t: torch.Tensor, codes: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``codes·scale`` in value (``scale`` broadcasts over ``codes``' leading dimension),
    with the gradient of ``t`` (the straight-through estimator)."""
    shape = (-1,) + (1,) * (codes.dim() - 1)
    return t + (codes.to(t.dtype) * scale.to(t.dtype).reshape(shape) - t).detach()


def straight_through(simulated: torch.Tensor, float_path: torch.Tensor) -> torch.Tensor:
    """``simulated`` in value, bit for bit, with the gradient of ``float_path``.

    ``float_path − float_path.detach()`` is exactly zero in value (x − x = 0 in IEEE
    arithmetic for finite x) and carries ``float_path``'s gradient, so adding it to the
    simulation leaves every bit of the simulation's output as it is, on any CPU."""
    simulated = simulated.to(float_path.dtype)
    return simulated + (float_path - float_path.detach())


class SimLayer(nn.Module):
    """Common part of the crossbar layers: weight quantisation and the engine."""

    weight: nn.Parameter
    bias: nn.Parameter | None

    def __init__(self, cfg: SimConfig, model: CrossbarModel, name: str) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = model
        self.layer_name = name
        self._engine: CrossbarMatmul | None = None
        self._engine_key: tuple[int, int, str] | None = None
        self._w_scale: torch.Tensor | None = None

    def weight_matrix(self) -> torch.Tensor:
        """The layer's weights as an (outputs, inputs) matrix."""
        return self.weight.reshape(self.weight.shape[0], -1)

    def quantized_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer weights (N, K) and their scales (N,)."""
        return quantize_weights(self.weight_matrix(), self.cfg.weight_bits,
                                self.cfg.weight_scale == "per_channel")

    @property
    def engine(self) -> CrossbarMatmul:
        """The crossbar engine, rebuilt when the weights change (version or storage)."""
        return self._engine_and_scale()[0]

    def _engine_and_scale(self) -> tuple[CrossbarMatmul, torch.Tensor]:
        key = (self.weight._version, self.weight.data_ptr(), str(self.weight.device))
        if self._engine is None or self._w_scale is None or self._engine_key != key:
            q, scale = self.quantized_weights()
            self._engine = CrossbarMatmul(q, self.cfg, self.model, self.layer_name)
            self._w_scale = scale
            self._engine_key = key
        return self._engine, self._w_scale

    def set_model(self, model: CrossbarModel) -> None:
        """Compute with another crossbar model of the same spec."""
        self.model = model
        if self._engine is not None:
            self._engine.set_model(model)

    def trains_through(self, x: torch.Tensor) -> bool:
        """Whether this forward trains through the crossbars (training mode, gradients on,
        and something to differentiate)."""
        return self.training and torch.is_grad_enabled() and (
            self.weight.requires_grad or x.requires_grad)

    def fake_quantized_weight(self) -> torch.Tensor:
        """The quantised weights in value, with the float weights' gradient."""
        q, scale = self.quantized_weights()
        return fake_quantized(self.weight, q.reshape(self.weight.shape), scale)

    def crossbar_matmul(self, x2d: torch.Tensor, x_scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Dequantised ``x2d_int @ qᵀ`` for integer rows ``x2d`` with per-row scales."""
        engine, w_scale = self._engine_and_scale()
        acc = engine(x2d, dtype)
        return acc.to(dtype) * (x_scale.to(dtype)[:, None] * w_scale.to(dtype)[None, :])

    def extra_repr(self) -> str:
        c = self.cfg
        return (f"model={self.model.name}, tile={c.spec.label}, w{c.weight_bits}/"
                f"x{c.input_bits}, slice={c.bits_per_slice}b, stream={c.bits_per_stream}b, "
                f"adc={c.adc_bits}b, {c.negative_weights}")


class SimLinear(SimLayer):
    """A ``nn.Linear`` on crossbars. Input (B, ..., in) with one scale per sample (dim 0)."""

    def __init__(self, linear: nn.Linear, cfg: SimConfig, model: CrossbarModel, name: str = "") -> None:
        super().__init__(cfg, model, name)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            return self.forward(x[None])[0]
        dtype = x.dtype if x.is_floating_point() else torch.float32
        x_int, x_scale = quantize_inputs(x, self.cfg.input_bits)
        per_row = x_int.reshape(-1, self.in_features)
        rep = per_row.shape[0] // x.shape[0]
        y = self.crossbar_matmul(per_row, x_scale.repeat_interleave(rep), dtype)
        if self.trains_through(x):
            float_path = F.linear(fake_quantized(x, x_int, x_scale), self.fake_quantized_weight())
            y = straight_through(y, float_path.reshape(-1, self.out_features))
        if self.bias is not None:
            y = y + self.bias.to(dtype)
        return y.reshape(*x.shape[:-1], self.out_features)


class SimConv2d(SimLayer):
    """A ``nn.Conv2d`` (groups=1, zero padding) on crossbars via im2col."""

    def __init__(self, conv: nn.Conv2d, cfg: SimConfig, model: CrossbarModel, name: str = "") -> None:
        super().__init__(cfg, model, name)
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError(f"{name}: SimConv2d supports groups=1, numeric zero padding")
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation = conv.padding, conv.dilation
        self.weight = conv.weight
        self.bias = conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            return self.forward(x[None])[0]
        dtype = x.dtype if x.is_floating_point() else torch.float32
        n, _, h, w = x.shape
        x_int, x_scale = quantize_inputs(x, self.cfg.input_bits)
        exact = torch.float32 if self.cfg.input_bits <= 24 else torch.float64  # holds the codes
        cols = F.unfold(x_int.to(exact), self.kernel_size, dilation=self.dilation,
                        padding=self.padding, stride=self.stride)  # n, K, L (exact integers)
        positions = cols.shape[-1]
        rows = cols.transpose(1, 2).reshape(n * positions, -1).to(torch.int64)
        y = self.crossbar_matmul(rows, x_scale.repeat_interleave(positions), dtype)
        if self.bias is not None:
            y = y + self.bias.to(dtype)
        h_out = (h + 2 * self.padding[0] - self.dilation[0] * (self.kernel_size[0] - 1) - 1) \
            // self.stride[0] + 1
        w_out = (w + 2 * self.padding[1] - self.dilation[1] * (self.kernel_size[1] - 1) - 1) \
            // self.stride[1] + 1
        y = y.reshape(n, h_out, w_out, self.out_channels).permute(0, 3, 1, 2)
        if self.trains_through(x):
            bias = None if self.bias is None else self.bias.to(dtype)
            float_path = F.conv2d(fake_quantized(x, x_int, x_scale), self.fake_quantized_weight(),
                                  bias, self.stride, self.padding, self.dilation)
            y = straight_through(y, float_path)
        return y
