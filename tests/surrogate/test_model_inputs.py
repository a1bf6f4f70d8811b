"""What every crossbar model does with inputs outside the happy path, through the one
entry point ``model(v, g)`` of :class:`surrogate.base.CrossbarModel`:

* numpy arrays (or lists) are refused with a TypeError that names the model and the
  argument and says to pass torch tensors;
* mixed dtypes are promoted as torch promotes them (float32 v with float64 g gives
  float64 currents, the same as float64 inputs), for every model alike;
* leading (batch) dimensions that do not broadcast, trailing sizes that do not fit the
  spec, missing dimensions, tensors on two devices and non-real dtypes are ValueErrors
  or TypeErrors naming the model, the argument and the shapes, devices or dtypes.

Every name in :data:`surrogate.MODEL_NAMES` is tested: ``geniex`` with a small checkpoint
written here, ``spice`` with the real ngspice on a 3x2 crossbar.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import surrogate
from spice_netlists import CrossbarSpec
from surrogate.base import CrossbarModel
from surrogate.checkpoint import save_geniex
from surrogate.geniex import GeniexConfig, GeniexModel, GeniexNet, Normalisation
from tests.support.tolerances import fs_atol

SPEC = CrossbarSpec(rows=3, cols=2, device="sinh", v_read_max=0.5)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small, untrained GENIEx checkpoint of SPEC."""
    torch.manual_seed(0)
    config = GeniexConfig(target="relative", hidden=[4])
    model = GeniexModel(SPEC, config, GeniexNet(SPEC.rows, SPEC.cols, config.hidden),
                        Normalisation(mean=0.0, scale=0.01), data_identity="test")
    path = tmp_path_factory.mktemp("geniex") / f"{SPEC.tag}.pt"
    save_geniex(model, path)
    return path


def make(name: str, checkpoint: Path) -> CrossbarModel:
    return surrogate.make_model(name, SPEC, checkpoint=checkpoint if name == "geniex" else None)


def inputs(lead: tuple[int, ...] = (2,), dtype: torch.dtype = torch.float64
           ) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    v = SPEC.v_read_max * torch.rand(*lead, SPEC.rows, generator=gen, dtype=torch.float64)
    g = SPEC.g_off + (SPEC.g_on - SPEC.g_off) * torch.rand(*lead, SPEC.rows, SPEC.cols,
                                                           generator=gen, dtype=torch.float64)
    return v.to(dtype), g.to(dtype)


MODELS = pytest.mark.parametrize("name", surrogate.MODEL_NAMES)


def test_every_model_is_covered() -> None:
    assert set(surrogate.MODEL_NAMES) >= {"ideal", "analytical", "analytical_device", "geniex",
                                          "spice", "circuit"}


@MODELS
def test_numpy_arrays_are_refused_with_the_fix(name: str, checkpoint: Path) -> None:
    model = make(name, checkpoint)
    v, g = inputs()
    with pytest.raises(TypeError, match=rf"^{name}: v is a numpy\.ndarray.*torch\.from_numpy"):
        model(v.numpy(), g)
    with pytest.raises(TypeError, match=rf"^{name}: g is a numpy\.ndarray.*torch\.from_numpy"):
        model(v, g.numpy())
    with pytest.raises(TypeError, match=rf"^{name}: v is a list"):
        model(v.tolist(), g)


@MODELS
def test_mixed_dtypes_are_promoted_as_torch_promotes(name: str, checkpoint: Path) -> None:
    model = make(name, checkpoint)
    v, g = inputs()
    reference = model(v.float().double(), g)          # the float32 values, in float64
    assert reference.dtype == torch.float64 and reference.shape == (2, SPEC.cols)
    mixed = model(v.float(), g)                        # float32 v, float64 g (failed: ideal)
    assert mixed.dtype == torch.float64
    # promotion happens first, so both run the same float64 operations: bit for bit
    assert torch.equal(mixed, reference)
    other = model(v, g.float())                        # float64 v, float32 g
    assert other.dtype == torch.float64
    assert torch.equal(other, model(v, g.float().double()))
    single = model(v.float(), g.float())
    assert single.dtype == torch.float32 and single.shape == (2, SPEC.cols)
    torch.testing.assert_close(single.double(), model(v.float().double(), g.float().double()),
                               rtol=1e-4, atol=fs_atol(SPEC, 1e-6))


@MODELS
def test_integer_inputs_take_the_float_dtype_of_the_other(name: str, checkpoint: Path) -> None:
    model = make(name, checkpoint)
    _, g = inputs()
    out = model(torch.zeros(2, SPEC.rows, dtype=torch.int64), g)
    assert out.dtype == torch.float64 and out.shape == (2, SPEC.cols)
    assert float(out.abs().max()) <= fs_atol(SPEC, 1e-12)   # zero volts in


@MODELS
def test_non_real_dtypes_are_refused(name: str, checkpoint: Path) -> None:
    model = make(name, checkpoint)
    v, g = inputs()
    with pytest.raises(TypeError, match=rf"^{name}: .*torch\.int64.*torch\.int64.*floating"):
        model(v.long(), g.long())
    with pytest.raises(TypeError, match=rf"^{name}: .*complex"):
        model(v.to(torch.complex128), g)


@MODELS
def test_batches_that_do_not_broadcast_name_both_shapes(name: str, checkpoint: Path) -> None:
    model = make(name, checkpoint)
    v, g = inputs(lead=(3,))
    message = re.escape(f"{name}: the leading dimensions of v (3, 3) and g (2, 3, 2) do not "
                        f"broadcast")
    with pytest.raises(ValueError, match=message):
        model(v, g[:2])
    # broadcasting itself is fine: one tile for a batch of inputs, one input for many tiles
    assert model(v, g[0]).shape == (3, SPEC.cols)
    assert model(v[0], g).shape == (3, SPEC.cols)


@MODELS
def test_wrong_sizes_and_missing_dimensions_are_named(name: str, checkpoint: Path) -> None:
    model = make(name, checkpoint)
    v, g = inputs()
    with pytest.raises(ValueError, match=rf"^{name}: g has shape \(2, 2, 3\), expected "
                                         rf"\(\.\.\., 3, 2\)"):
        model(v, g.transpose(-1, -2))
    with pytest.raises(ValueError, match=rf"^{name}: v has shape \(2, 2\), expected \(\.\.\., 3\)"):
        model(v[:, :2], g)
    with pytest.raises(ValueError, match=rf"^{name}: v has shape \(\), expected \(\.\.\., 3\)"):
        model(v[0, 0], g)
    with pytest.raises(ValueError, match=rf"^{name}: g has shape \(2,\), expected \(\.\.\., 3, 2\)"):
        model(v, g[0, 0])


@MODELS
def test_tensors_on_two_devices_are_named(name: str, checkpoint: Path) -> None:
    model = make(name, checkpoint)
    v, g = inputs()
    with pytest.raises(ValueError, match=rf"^{name}: v is on meta and g on cpu"):
        model(v.to("meta"), g)


def test_ideal_mvm_promotes_like_the_other_linear_models() -> None:
    # the per-MVM path (prepare once, mvm per input) of the ideal model mixed dtypes too
    v, g = inputs()
    for name in ("ideal", "analytical", "analytical_device"):
        model = surrogate.make_model(name, SPEC)
        out = model.mvm(model.prepare(g), v.float())
        assert out.dtype == torch.float64, name


def test_spice_gives_the_same_currents_for_numpy_made_tensors(checkpoint: Path) -> None:
    """The fix the numpy error names works (and ngspice agrees with the circuit model)."""
    rng = np.random.default_rng(3)
    v = rng.uniform(0, SPEC.v_read_max, (2, SPEC.rows))
    g = rng.uniform(SPEC.g_off, SPEC.g_on, (2, SPEC.rows, SPEC.cols))
    spice = make("spice", checkpoint)(torch.from_numpy(v), torch.from_numpy(g))
    circuit = make("circuit", checkpoint)(torch.from_numpy(v), torch.from_numpy(g))
    torch.testing.assert_close(spice, circuit, rtol=0, atol=fs_atol(SPEC, 1e-6))


# ---------------------------------------------------------------- values, not shapes
BAD_VALUES = [("v", "nan", "NaN"), ("v", "inf", "infinite"), ("g", "nan", "NaN"),
              ("g", "inf", "infinite"), ("g", "neg", "negative")]


def _spoil(t: torch.Tensor, kind: str, count: int) -> torch.Tensor:
    t = t.clone()
    flat = t.reshape(-1)
    value = {"nan": float("nan"), "inf": float("inf"), "neg": -1e-6}[kind]
    flat[:count] = value
    return t


@MODELS
@pytest.mark.parametrize("arg,kind,word", BAD_VALUES)
def test_bad_values_are_refused_naming_the_argument_and_count(name, arg, kind, word,
                                                              checkpoint) -> None:
    from spice_netlists.circuit.inputs import InputValueError
    v, g = inputs()
    if arg == "v":
        v = _spoil(v, kind, 2)
    else:
        g = _spoil(g, kind, 2)
    n = (v if arg == "v" else g).numel()
    with pytest.raises(InputValueError, match=rf"{name}: {arg}: 2 of {n} values are {word}"):
        make(name, checkpoint)(v, g)


@MODELS
def test_conductances_far_above_g_on_warn_with_the_factor(name, checkpoint) -> None:
    v, g = inputs()
    g = g.clone()
    g[0, 0, 0] = 1e6 * SPEC.g_on                 # a value typed in µS instead of S
    with pytest.warns(UserWarning, match=r"1e\+06x the spec's g_on"):
        try:
            make(name, checkpoint)(v, g)
        except Exception:                        # the warning is what is checked here;
            pass                                 # a solver may also refuse such a cell


def test_the_circuit_solver_names_a_nan_instead_of_a_nan_residual() -> None:
    """``solve_operating_point`` is the hot path and checks nothing up front; when NaN
    inputs make it fail, the error names them instead of "residual nan"."""
    from spice_netlists.circuit.inputs import InputValueError
    from spice_netlists.circuit.solver import solve_operating_point
    v, g = inputs()
    with pytest.raises(InputValueError, match=r"v: 1 of 6 values are NaN"):
        solve_operating_point(SPEC, _spoil(v, "nan", 1), g)


def test_a_circuit_tile_with_a_negative_conductance_is_refused_when_prepared() -> None:
    from spice_netlists.circuit.inputs import InputValueError
    model = surrogate.make_model("circuit", SPEC)
    _, g = inputs()
    with pytest.raises(InputValueError, match=r"g: 1 of 12 values are negative"):
        model.prepare(_spoil(g, "neg", 1))


def test_zero_conductances_and_the_programmed_range_do_not_warn(recwarn) -> None:
    v, g = inputs()
    g = g.clone()
    g[..., 0, 0] = 0.0                           # an open cell is physics, not a typo
    surrogate.make_model("analytical", SPEC)(v, g)
    assert not [w for w in recwarn if "g_on" in str(w.message) or "g_off" in str(w.message)]
