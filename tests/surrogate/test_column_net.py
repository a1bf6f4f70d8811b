"""The per-column GENIEx architecture (``arch: column``): shapes and broadcasting, the
per-tile cache equal to the whole evaluation, zero input giving zero current, weights
that grow with R and C apart (never with R·C), its multiply-adds per MVM counted from
the layers, a checkpoint round trip, and a short training run on exact-circuit data that
beats the physics it corrects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import datagen
from datagen.dataset import CrossbarDataset
from spice_netlists import CrossbarSpec
from surrogate import make_model
from surrogate.checkpoint import load_geniex, save_geniex
from surrogate.column_net import ColumnNet
from surrogate.geniex import GeniexConfig, GeniexModel, GeniexNet, Normalisation, make_net
from surrogate.training import train_geniex
from tests.support.tolerances import fs_atol
from tests.surrogate.test_geniex_model import SPEC as MODEL_SPEC, inputs

SPEC = MODEL_SPEC           # the GENIEx model tests' 6x5 tile, so their inputs() fit


def untrained(target: str, baseline: str | None = None, hidden: list[int] = [32, 8]) -> GeniexModel:
    torch.manual_seed(0)
    config = GeniexConfig(target=target, baseline=baseline, arch="column", hidden=hidden)
    net = make_net(config, SPEC.rows, SPEC.cols)
    with torch.no_grad():                       # a position vector that is not all zero
        net.position.normal_(0.0, 0.1)
    return GeniexModel(SPEC, config, net, Normalisation(0.0, 0.05), data_identity="abc")


@pytest.mark.parametrize("baseline", ["analytical", "device", "cell"])
@pytest.mark.parametrize("target", ["residual", "relative"])
def test_the_per_tile_cache_equals_the_whole_evaluation_and_zero_input_gives_zero(
        target: str, baseline: str) -> None:
    model = untrained(target, baseline)
    assert isinstance(model.net, ColumnNet) and model.net.uses_base
    v, g = inputs(t=3, b=4)
    cached = model.mvm(model.prepare(g), v)
    assert cached.shape == (4, 3, SPEC.cols) and torch.all(torch.isfinite(cached))
    full = model.full_forward(v, g.expand(4, *g.shape))
    # float32 network on both paths, summed in other orders: float32 rounding of the
    # correction, far below a microamp-scale current
    torch.testing.assert_close(cached, full, rtol=1e-5, atol=fs_atol(SPEC, 1e-6))
    one = model.mvm(model.prepare(g), v[0])             # fewer leading dims broadcast
    torch.testing.assert_close(one, cached[0], rtol=1e-6, atol=fs_atol(SPEC, 1e-7))
    zero = model.mvm(model.prepare(g), torch.zeros(2, 3, SPEC.rows, dtype=torch.float64))
    if target == "relative":              # a factor on a baseline current that is exactly 0
        assert torch.equal(zero, torch.zeros_like(zero))
    else:  # f(g, 0) - f(g, 0), the two evaluated over batches of other shapes (float32 rounding)
        torch.testing.assert_close(zero, torch.zeros_like(zero), rtol=0, atol=fs_atol(SPEC, 1e-7))


def test_a_column_depends_on_other_columns_only_through_the_row_loads() -> None:
    """Swapping two other columns' conductances keeps every row load, so the network's
    output for column 0 is unchanged; changing one other device's conductance changes a
    row load, and with it column 0's output."""
    net = untrained("relative").net
    _, g = inputs(t=1, b=1)
    gs = ((g - SPEC.g_off) / (SPEC.g_on - SPEC.g_off)).flatten(-2).float()
    v = torch.rand(1, SPEC.rows)
    b = torch.rand(1, SPEC.cols)
    base = net(gs, v, b)[..., 0]
    swapped = g.clone()
    swapped[..., [2, 3]] = g[..., [3, 2]]
    gs2 = ((swapped - SPEC.g_off) / (SPEC.g_on - SPEC.g_off)).flatten(-2).float()
    torch.testing.assert_close(net(gs2, v, b)[..., 0], base, rtol=1e-5, atol=1e-6)
    gs3 = gs.clone()
    gs3[..., 1 * SPEC.cols + 3] += 0.5                    # row 1, column 3
    assert not torch.allclose(net(gs3, v, b)[..., 0], base, rtol=0, atol=1e-6)


def test_its_weights_grow_with_rows_and_columns_apart_and_its_cost_is_counted() -> None:
    h = 64
    for r, c in ((32, 32), (64, 64), (128, 128)):
        col, mlp = ColumnNet(r, c, [h]), GeniexNet(r, c, [h])
        n_col = sum(p.numel() for p in col.parameters())
        assert n_col == 3 * h * r + 2 * h + c * h + h + 1        # w_g, w_l, w_v, w_b, b1, position, out
        assert sum(p.numel() for p in mlp.parameters()) == h * (r * c + r) + h + c * h + c
        assert col.macs_per_mvm() == r * h + c * (h + h)     # inputs' layer, then per column
        assert mlp.macs_per_mvm() == r * h + h * c
    deep = ColumnNet(16, 8, [32, 16])
    assert deep.macs_per_mvm() == 16 * 32 + 8 * (32 + 32 * 16 + 16)


def test_the_architecture_travels_in_the_checkpoint(tmp_path) -> None:
    model = untrained("relative", "device")
    save_geniex(model, tmp_path / "column.pt")
    loaded = load_geniex(tmp_path / "column.pt", SPEC)
    assert loaded.config.arch == "column" and isinstance(loaded.net, ColumnNet)
    v, g = inputs(t=2, b=3)
    assert torch.equal(loaded(v, g), model(v, g))       # the same weights, the same ops


def test_an_unknown_architecture_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"^arch must be one of mlp, column, got 'cnn'"):
        GeniexConfig(arch="cnn")


@pytest.mark.slow
def test_a_short_training_run_beats_the_physics_it_corrects() -> None:
    spec = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5, g_on=4e-5,
                        g_off=4e-5 / 6)
    v, g = datagen.draw(spec, 700, np.random.default_rng(3))
    i = make_model("circuit", spec)(torch.from_numpy(v), torch.from_numpy(g)).numpy()
    meta = pd.DataFrame({"sample_id": np.arange(700), "ok": np.ones(700, dtype=bool)})
    full = CrossbarDataset(spec, v, g, i, meta, identity="circuit-8x8")
    train, test = full.select(np.arange(500)), full.select(np.arange(500, 700))
    cfg = GeniexConfig(target="relative", baseline="device", arch="column", hidden=[64],
                       epochs=60, batch_size=32, lr=3e-3, patience=15, device="cpu")
    model, history, metrics = train_geniex(train, cfg)
    assert metrics["val_rmse_pct_fs"] < 0.5 * metrics["baseline_val_rmse_pct_fs"]
    vt, gt = torch.from_numpy(test.v), torch.from_numpy(test.g)
    learned = float(torch.sqrt(torch.mean((model(vt, gt) - torch.from_numpy(test.i)) ** 2)))
    physics = make_model("analytical_device", spec)(vt, gt)
    base = float(torch.sqrt(torch.mean((physics - torch.from_numpy(test.i)) ** 2)))
    assert learned < 0.5 * base, (learned, base)


@pytest.mark.parametrize("lead", [(4, 3), (3,), ()], ids=["batch", "one-per-tile", "one-vector"])
def test_the_compiled_head_equals_the_torch_head(lead: tuple[int, ...]) -> None:
    """Inference on the CPU runs the compiled head; with autograd on, the torch one. They
    agree to float32 rounding of a sum of 32 terms (the head's outputs are O(1)), and
    the compiled one gives the same numbers with 1 and 2 threads (each output is summed
    by one thread, in one order)."""
    from surrogate import column_kernel
    net = untrained("relative", hidden=[32]).net        # one hidden layer: the kernel's case
    gen = torch.Generator().manual_seed(1)
    hg = net.g_part(torch.rand(3, SPEC.rows * SPEC.cols, generator=gen)).detach()
    v = torch.rand(*lead, SPEC.rows, generator=gen)
    base = torch.rand(*(lead if lead and lead[-1] == 3 else (*lead, 3)), SPEC.cols, generator=gen)
    with torch.no_grad():
        assert column_kernel.usable(net, hg, torch.zeros(1, dtype=torch.float32))
        fast = net.per_input(hg, v, base)
    with torch.enable_grad():
        slow = net.per_input(hg, v, base).detach()
    assert fast.shape == slow.shape
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with torch.no_grad():
            one = column_kernel.column_head(hg, torch.nn.functional.linear(v, net.w_v), base,
                                            net.w_b, net.out.weight, net.out.bias)
        torch.set_num_threads(2)
        with torch.no_grad():
            two = column_kernel.column_head(hg, torch.nn.functional.linear(v, net.w_v), base,
                                            net.w_b, net.out.weight, net.out.bias)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(one, two)
