"""mnist_resnet: a residual MNIST network with at least six crossbar layers that the
converter maps completely and, on ideal tiles with a lossless ADC, computes exactly."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from functional_sim import SimConfig, convert, lossless_adc_bits, sim_layers
from functional_sim.studies.config import TrainConfig
from functional_sim.studies.data import load_images
from functional_sim.studies.nets import NETS, Residual, build
from functional_sim.studies.train_nets import train
from spice_netlists import CrossbarSpec
from surrogate.ideal import IdealModel

SPEC = CrossbarSpec(rows=32, cols=32)


def sim_config(**kw: object) -> SimConfig:
    base = dict(weight_bits=8, input_bits=8, bits_per_slice=2, bits_per_stream=4,
                adc_bits=lossless_adc_bits(SPEC, 2, 4), negative_weights="differential",
                weight_scale="per_channel", spec=SPEC)
    base.update(kw)
    return SimConfig(**base)


def fresh(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build("mnist_resnet").eval()


def test_resnet_is_an_mnist_net_with_at_least_six_crossbar_layers() -> None:
    assert NETS["mnist_resnet"].dataset == "mnist"
    net = fresh()
    mappable = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    sim = convert(net, sim_config(), IdealModel(SPEC))
    names = [name for name, _ in sim_layers(sim)]
    assert len(names) >= 6 and len(names) == len(mappable)
    assert not any(type(m) in (nn.Conv2d, nn.Linear) for m in sim.modules())


def test_resnet_maps_a_batch_of_images_to_ten_logits() -> None:
    assert fresh()(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_resnet_blocks_keep_the_identity_path_when_their_layers_are_zero() -> None:
    net = fresh()
    blocks = [m for m in net.modules() if isinstance(m, Residual)]
    assert len(blocks) >= 2
    for block in blocks:
        x = torch.randn(2, 16, 6, 6) if isinstance(block.body[0], nn.Conv2d) else torch.randn(2, 64)
        with torch.no_grad():
            for m in block.body.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    m.weight.zero_()
                    m.bias.zero_()
            # zeroed layers: the body gives BN's shift only; the block adds it to x
            body = block.body(x)
            assert torch.allclose(body, body[:1].expand_as(body))  # independent of x
            assert torch.allclose(block(x), torch.relu(x + body))   # x passes through


def test_converted_resnet_on_ideal_tiles_equals_the_integer_fixed_point_net() -> None:
    """Every crossbar layer, fed the activations the converted net gives it, returns the
    integer matmul/convolution of its quantised inputs and weights, dequantised."""
    net = fresh(1)
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    x = torch.where(x > 0.6, x, torch.zeros_like(x))
    cfg = sim_config()
    sim = convert(net.double(), cfg, IdealModel(SPEC)).eval()
    seen: dict[str, torch.Tensor] = {}
    hooks = [layer.register_forward_hook(
        lambda mod, inp, out, name=name: seen.__setitem__(name, (inp[0], out)))
        for name, layer in sim_layers(sim)]
    with torch.no_grad():
        sim(x)
    for h in hooks:
        h.remove()
    assert len(seen) == 7
    for name, layer in sim_layers(sim):
        inp, out = seen[name]
        w = layer.weight.detach().reshape(layer.weight.shape[0], -1)
        top = 2 ** (cfg.weight_bits - 1) - 1
        sw = w.abs().amax(dim=1) / top
        q = torch.round(w / sw[:, None]).clamp(-top, top)
        flat = inp.reshape(len(inp), -1)
        signed = (flat < 0).any(dim=1)
        xtop = torch.where(signed, 2.0 ** (cfg.input_bits - 1) - 1, 2.0 ** cfg.input_bits - 1)
        sx = torch.where(flat.abs().amax(1) > 0, flat.abs().amax(1) / xtop, torch.ones(len(flat), dtype=x.dtype))
        xi = torch.round(inp / sx.reshape(-1, *([1] * (inp.dim() - 1))))
        if inp.dim() == 4:
            acc = F.conv2d(xi, q.reshape(layer.weight.shape), stride=layer.stride,
                           padding=layer.padding)
            expect = acc * sx[:, None, None, None] * sw[None, :, None, None] \
                + layer.bias.detach()[None, :, None, None]
        else:
            acc = xi @ q.T
            expect = acc * sx[:, None] * sw[None, :] + layer.bias.detach()
        assert torch.equal(acc, torch.round(acc)), name
        np.testing.assert_allclose(out.numpy(), expect.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=name)


def test_resnet_smoke_trains_on_mnist() -> None:
    split = load_images("mnist", seed=0)
    split.x_train, split.y_train = split.x_train[:1500], split.y_train[:1500]
    net = train("mnist_resnet", split, TrainConfig(nets=("mnist_resnet",), epochs=1,
                                                   batch_size=64, lr=0.004))
    with torch.no_grad():
        acc = float((net(split.x_test[:300]).argmax(1) == split.y_test[:300]).float().mean())
    assert acc > 0.3          # chance is 0.1; BN's running statistics lag after one epoch
