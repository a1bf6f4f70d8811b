"""With the ideal crossbar and a lossless ADC, crossbar layers compute the integer
fixed-point matmul exactly; with a coarse ADC the error is nonzero and bounded.

Golden values are integer matmuls/convolutions of weights and inputs quantised here,
independently of functional_sim.sim.quant.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from functional_sim import SimConfig, convert, lossless_adc_bits, sim_layers
from spice_netlists import CrossbarSpec
from surrogate.ideal import IdealModel

SPEC = CrossbarSpec(rows=8, cols=6)   # small tiles so that odd layers span several


def reference_weights(w: torch.Tensor, bits: int, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    wm = w.detach().double().numpy().reshape(w.shape[0], -1)
    top = 2 ** (bits - 1) - 1
    peak = np.abs(wm).max(axis=1) if per_channel else np.full(wm.shape[0], np.abs(wm).max())
    scale = np.where(peak > 0, peak / top, 1.0)
    q = np.clip(np.rint(wm / scale[:, None]), -top, top).astype(np.int64)
    return q, scale


def reference_inputs(x: torch.Tensor, bits: int) -> tuple[np.ndarray, np.ndarray]:
    xn = x.detach().double().numpy()
    flat = xn.reshape(len(xn), -1)
    signed = (flat < 0).any(axis=1)
    top = np.where(signed, 2 ** (bits - 1) - 1, 2 ** bits - 1)
    peak = np.abs(flat).max(axis=1)
    scale = np.where(peak > 0, peak / top, 1.0)
    shape = (-1,) + (1,) * (xn.ndim - 1)
    xi = np.rint(xn / scale.reshape(shape)).astype(np.int64)
    return xi, scale


def config(scheme: str, k: int, m: int, **kw) -> SimConfig:
    base = dict(weight_bits=6, input_bits=5, bits_per_slice=k, bits_per_stream=m,
                adc_bits=lossless_adc_bits(SPEC, k, m), negative_weights=scheme,
                weight_scale="per_channel", spec=SPEC)
    base.update(kw)
    return SimConfig(**base)


CASES = [("differential", 1, 1), ("differential", 2, 3), ("offset", 3, 2), ("offset", 2, 1),
         ("differential", 4, 2)]


@pytest.mark.parametrize("scheme,k,m", CASES)
@pytest.mark.parametrize("signed", [False, True])
def test_linear_equals_integer_matmul(scheme: str, k: int, m: int, signed: bool) -> None:
    torch.manual_seed(1)
    lin = nn.Linear(19, 13).double()        # 19 rows -> 3 row tiles; 13 outputs -> odd
    x = torch.randn(7, 19, dtype=torch.float64)
    x = x if signed else x.abs()
    x[3] = x[3].abs()                         # a non-negative sample among signed ones
    cfg = config(scheme, k, m)
    sim = convert(lin, cfg, IdealModel(cfg.spec))
    q, sw = reference_weights(lin.weight, cfg.weight_bits, True)
    xi, sx = reference_inputs(x, cfg.input_bits)
    expect_int = xi @ q.T
    got_int = sim.engine(torch.from_numpy(xi), torch.float64)
    assert torch.equal(got_int, torch.from_numpy(expect_int))
    expect = expect_int * sx[:, None] * sw[None, :] + lin.bias.detach().numpy()
    np.testing.assert_allclose(sim(x).detach().numpy(), expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scheme,k,m", CASES[:4])
def test_conv2d_equals_integer_convolution(scheme: str, k: int, m: int) -> None:
    torch.manual_seed(2)
    conv = nn.Conv2d(3, 5, kernel_size=(3, 2), stride=(2, 1), padding=1).double()  # K=18
    x = torch.relu(torch.randn(2, 3, 7, 6, dtype=torch.float64))
    cfg = config(scheme, k, m, weight_scale="per_layer")
    sim = convert(nn.Sequential(conv, nn.ReLU()), cfg, IdealModel(cfg.spec))
    q, sw = reference_weights(conv.weight, cfg.weight_bits, False)
    xi, sx = reference_inputs(x, cfg.input_bits)
    expect_int = F.conv2d(torch.from_numpy(xi).double(),
                          torch.from_numpy(q).double().reshape(conv.weight.shape),
                          stride=(2, 1), padding=1).numpy()
    assert np.array_equal(expect_int, np.rint(expect_int))
    expect = expect_int * sx[:, None, None, None] * sw[None, :, None, None] \
        + conv.bias.detach().numpy()[None, :, None, None]
    got = sim[0](x).detach().numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-12)


def test_float32_inputs_are_exact_too() -> None:
    torch.manual_seed(3)
    lin = nn.Linear(21, 9)
    cfg = config("differential", 2, 1, weight_bits=8, input_bits=8)
    sim = convert(lin, cfg, IdealModel(cfg.spec))
    q, _ = reference_weights(lin.weight, 8, True)
    xi, _ = reference_inputs(torch.rand(4, 21), 8)
    got = sim.engine(torch.from_numpy(xi), torch.float32)
    assert torch.equal(got, torch.from_numpy(xi @ q.T))


def test_converted_network_keeps_other_layers_digital_and_state_dict() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(4 * 3 * 3, 10))
    cfg = config("offset", 2, 2)
    sim = convert(net, cfg, IdealModel(cfg.spec))
    assert [name for name, _ in sim_layers(sim)] == ["0", "4"]
    assert isinstance(sim[1], nn.ReLU) and isinstance(sim[2], nn.MaxPool2d)
    assert sim.state_dict().keys() == net.state_dict().keys()
    assert isinstance(net[0], nn.Conv2d) and type(net[0]) is nn.Conv2d  # original untouched
    assert sim(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_coarse_adc_error_is_nonzero_and_bounded() -> None:
    torch.manual_seed(4)
    k, m, adc_bits = 2, 2, 4
    lin = nn.Linear(30, 11).double()
    cfg = config("differential", k, m, adc_bits=adc_bits, weight_bits=7, input_bits=6)
    sim = convert(lin, cfg, IdealModel(cfg.spec))
    q, _ = reference_weights(lin.weight, 7, True)
    xi, _ = reference_inputs(torch.rand(16, 30, dtype=torch.float64), 6)
    err = (sim.engine(torch.from_numpy(xi), torch.float64).numpy() - xi @ q.T)
    # per crossbar read: ADC error <= LSB/2, then rounding to an integer adds <= 1/2
    unit = (SPEC.v_read_max / (2 ** m - 1)) * (SPEC.g_on - SPEC.g_off) / (2 ** k - 1)
    lsb = SPEC.rows * SPEC.g_on * SPEC.v_read_max / (2 ** adc_bits - 1)
    per_read = lsb / 2 / unit + 0.5
    streams, slices, row_tiles = math.ceil(6 / m), math.ceil(6 / k), math.ceil(30 / SPEC.rows)
    weight = sum(2 ** (m * s) for s in range(streams)) * sum(2 ** (k * s) for s in range(slices))
    bound = per_read * weight * 2 * row_tiles   # two crossbars (W+, W-) per slice
    assert np.abs(err).max() > 0
    assert np.abs(err).max() <= bound
    finer = convert(lin, cfg.with_(adc_bits=6), IdealModel(cfg.spec)).engine(torch.from_numpy(xi), torch.float64)
    assert np.abs(finer.numpy() - xi @ q.T).mean() < np.abs(err).mean()
