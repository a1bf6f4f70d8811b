"""Training a GENIEx network on a SPICE dataset (seeded Adam with early stopping).

The converged samples are split into training and validation sets (scikit-learn's
``train_test_split``, seeded). Targets are normalised with statistics of the training
split (stored in the model, hence in the checkpoint). Each epoch reports the training
loss, the validation loss (both MSE of normalised targets) and the validation RMSE of
column currents in % of full scale; the weights of the epoch with the lowest
validation loss are kept, and training stops after ``patience`` epochs without one.

Training is reproducible bit for bit: it runs inside :func:`deterministic_torch` (a
fixed thread count and torch's deterministic algorithms), so the same data and config
give the same weights and metrics on any machine of the same kind, whatever its core
count. ``functional_sim.studies.train_nets`` trains the study's networks the same way.
"""

from __future__ import annotations

import copy
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from spice_netlists import CrossbarSpec
from surrogate.analytical_cell import AnalyticalCellModel
from surrogate.analytical import effective_conductance
from surrogate.geniex import GeniexConfig, GeniexModel, Normalisation, make_net

if TYPE_CHECKING:           # only for annotations: train_nets imports this module too
    from datagen.dataset import CrossbarDataset

#: torch CPU threads every training run uses (:func:`deterministic_torch`). Float
#: reductions split their work by thread and float addition is not associative, so
#: the same seed trained with another thread count gives other weights: convolution
#: and linear weight gradients (mnist_cnn trained with 2 threads reached test top-1
#: 0.951, with 4 threads 0.952), and sums over more than ~32k elements, such as a
#: GENIEx loss over 4096 samples of 16 columns. torch's default is one thread per core,
#: so a fresh clone on a machine with another core count did not reproduce the
#: committed metrics. One thread is the count every machine runs without
#: oversubscription, and the study's training is small enough for it.
TRAIN_THREADS = 1

#: cuBLAS's setting for deterministic matrix products on CUDA (read when its handle
#: is created; torch's deterministic mode refuses CUDA matmuls without it)
_CUBLAS_DETERMINISTIC = ":4096:8"


@contextmanager
def deterministic_torch(threads: int = TRAIN_THREADS) -> Iterator[None]:
    """Run the body with ``threads`` torch CPU threads and
    ``torch.use_deterministic_algorithms(True)``; both are given back afterwards.

    With a fixed thread count, every float reduction is split the same way on every
    machine (see :data:`TRAIN_THREADS`); deterministic algorithms rule out the kernels
    that accumulate in a run-dependent order (scatter/index adds, some CUDA
    convolutions; an op without a deterministic kernel raises instead of drifting).
    On CUDA, ``CUBLAS_WORKSPACE_CONFIG`` is set to ``:4096:8`` unless already set; it
    only takes effect if no cuBLAS handle exists yet in the process.
    Seeding stays with the caller (each training run seeds its own generators).
    """
    if threads < 1:
        raise ValueError(f"deterministic_torch: threads must be >= 1, got {threads!r}")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", _CUBLAS_DETERMINISTIC)
    old_threads = torch.get_num_threads()
    old_mode = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_mode, warn_only=old_warn)
        torch.set_num_threads(old_threads)


def sample_g_eff(spec: CrossbarSpec, g: np.ndarray) -> np.ndarray:
    """The analytical ``G_eff`` (M, R, C) float64 of samples ``g`` (M, R, C), each its
    own tile: the costly per-sample step of the analytical baseline. Compute it once per
    dataset and pass it to :func:`linear_currents`, :func:`base_currents` or
    :func:`train_geniex` when several variants train on the same samples."""
    return effective_conductance(
        spec, torch.from_numpy(np.ascontiguousarray(g, dtype=np.float64))).numpy()


def linear_currents(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray,
                    analytical: bool = True, device: bool = False,
                    g_eff: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Ideal and (optionally) analytical column currents (M, C), float64, for samples
    v (M, R), g (M, R, C) that each have their own conductances.

    ``device``: apply the device I–V to the inputs first (``spec.device_drive(v)``), the
    device-aware variants of both models (see :class:`GeniexConfig` ``baseline``).
    ``g_eff``: the samples' :func:`sample_g_eff`, if already computed."""
    x = spec.device_drive(np.asarray(v, dtype=np.float64)) if device else v
    ideal = np.einsum("mr,mrc->mc", x, g)
    if not analytical:
        return ideal, None
    if g_eff is None:
        g_eff = sample_g_eff(spec, g)
    return ideal, np.einsum("mr,mrc->mc", x, g_eff)


def base_currents(config: GeniexConfig, spec: CrossbarSpec, v: np.ndarray,
                  g: np.ndarray, g_eff: np.ndarray | None = None) -> np.ndarray:
    """The baseline currents (M, C) the config's target corrects: the ideal model for
    ``ratio``, else the analytical one; device I–V on the inputs for baseline
    ``device``; the cell-voltage model for baseline ``cell``. Equals the baseline
    :class:`GeniexModel` computes on the same samples. ``g_eff``: the samples'
    :func:`sample_g_eff`, if already computed (baseline ``cell`` does not use it)."""
    if config.baseline == "cell":
        model = AnalyticalCellModel(spec)
        vt = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64))
        gt = torch.from_numpy(np.ascontiguousarray(g, dtype=np.float64))
        return model.mvm(model.prepare(gt), vt).numpy()
    ideal, an = linear_currents(spec, v, g, analytical=config.target_obj.uses_g_eff,
                                device=config.baseline == "device", g_eff=g_eff)
    return ideal if an is None else an


@dataclass
class TrainingData:
    """Network inputs and normalised targets of a dataset, as float32 tensors.

    ``weight`` is 1 where a target counts in the loss and 0 where it is masked (ratio
    target on near-zero currents)."""

    g_scaled: torch.Tensor      # (M, R·C)
    v_scaled: torch.Tensor      # (M, R)
    target: torch.Tensor        # (M, C) normalised
    weight: torch.Tensor        # (M, C)
    i_spice: torch.Tensor       # (M, C) A, float64
    i_base: torch.Tensor        # (M, C) A, float64: the baseline (see base_currents)
    i_linear: torch.Tensor | None = None      # (M, C) A, float64: vᵀ·G_eff, for targets that need it
    base_scaled: torch.Tensor | None = None   # (M, C) i_base / full scale, float32, for nets that read it

    def base(self, idx: torch.Tensor) -> torch.Tensor | None:
        """The scaled baseline currents of samples ``idx`` (None when not read)."""
        return None if self.base_scaled is None else self.base_scaled[idx]


def raw_targets(config: GeniexConfig, spec: CrossbarSpec, i_spice: np.ndarray,
                i_base: np.ndarray, i_linear: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Un-normalised targets (M, C) and their loss weights (M, C) from the SPICE
    currents, the baseline currents of :func:`base_currents` and, for targets that need
    it, the linear network's currents."""
    return config.target_obj.forward(i_spice, i_base, spec.full_scale_current,
                                     config.ratio_min_current, i_linear)


def fit_normalisation(config: GeniexConfig, y: np.ndarray, w: np.ndarray) -> Normalisation:
    """Mean and scale of the training targets where they count (residual: mean 0, so
    that the zero-input subtraction is unaffected)."""
    sel = y[w > 0]
    if sel.size == 0:
        raise ValueError("no usable training targets (every current below the ratio mask)")
    mean = config.target_obj.norm_mean(sel)
    scale = float(np.sqrt(np.mean((sel - mean) ** 2)))
    return Normalisation(mean=mean, scale=scale if scale > 0 else 1.0)


def _outputs(net: torch.nn.Module, gs: torch.Tensor, vs: torch.Tensor,
             bs: torch.Tensor | None, residual: bool) -> torch.Tensor:
    """Network outputs for training: per-tile G part shared with the zero-input pass
    (zero input, zero baseline current)."""
    pre_g = net.g_part(gs)
    out = net.per_input(pre_g, vs, bs)
    if not residual:
        return out
    return out - net.per_input(pre_g, torch.zeros_like(vs),
                               None if bs is None else torch.zeros_like(bs))


def _current_rmse_pct(config: GeniexConfig, norm: Normalisation, spec: CrossbarSpec,
                      out: torch.Tensor, data: TrainingData, idx: torch.Tensor) -> float:
    """RMSE of predicted column currents vs SPICE on samples ``idx``, % of full scale."""
    fs = spec.full_scale_current
    out = out.double()
    linear = None if data.i_linear is None else data.i_linear[idx]
    pred = config.target_obj.inverse(data.i_base[idx], out, norm, fs, config.ratio_floor, linear)
    return float(torch.sqrt(torch.mean((pred - data.i_spice[idx]) ** 2)) / fs * 100)


def train_geniex(dataset: CrossbarDataset, config: GeniexConfig, *, progress: bool = False,
                 desc: str = "train", g_eff: np.ndarray | None = None,
                 threads: int = TRAIN_THREADS
                 ) -> tuple[GeniexModel, list[dict[str, float]], dict[str, float]]:
    """Train one GENIEx network on the converged samples of ``dataset``.

    Returns the model (best validation epoch), the per-epoch history
    (``epoch, train_loss, val_loss, val_rmse_pct_fs``) and summary metrics (best epoch,
    its validation RMSE, and that of the baseline the target corrects, see
    :func:`base_currents`, on the same validation set). ``desc`` names the run (the
    stage passes ``"<variant> <tag>"``) in the progress bar and in errors. ``g_eff``:
    :func:`sample_g_eff` of ``dataset.converged()``'s samples, if already computed (the
    stage computes it once per dataset for all its variants).

    Deterministic: it runs inside :func:`deterministic_torch` with ``threads`` torch
    threads (default :data:`TRAIN_THREADS`), so the same dataset, config (``seed``
    included) and thread count give bit-identical weights, history and metrics in any
    process on machines of the same kind, whatever their core count.

    Raises:
        FloatingPointError: a converged sample gives a non-finite target, or the
            training or validation loss of an epoch is not finite (diverged).
    """
    with deterministic_torch(threads):
        return _train_geniex(dataset, config, progress=progress, desc=desc, g_eff=g_eff)


def _train_geniex(dataset: CrossbarDataset, config: GeniexConfig, *, progress: bool,
                  desc: str, g_eff: np.ndarray | None
                  ) -> tuple[GeniexModel, list[dict[str, float]], dict[str, float]]:
    """:func:`train_geniex`'s work, run under its deterministic settings."""
    spec = dataset.spec
    ds = dataset.converged()
    if len(ds) < 4:
        raise ValueError(f"dataset has {len(ds)} converged samples; need at least 4 to train")
    residual = config.target_obj.zero_offset
    if g_eff is not None and g_eff.shape != ds.g.shape:
        raise ValueError(f"{desc}: g_eff has shape {g_eff.shape}, expected {ds.g.shape} "
                         f"(the converged samples' conductances)")
    if config.target_obj.needs_linear and g_eff is None:
        g_eff = sample_g_eff(spec, ds.g)
    i_base = base_currents(config, spec, ds.v, ds.g, g_eff)
    i_linear = (linear_currents(spec, ds.v, ds.g, g_eff=g_eff)[1]
                if config.target_obj.needs_linear else None)
    y, w = raw_targets(config, spec, ds.i, i_base, i_linear)
    finite = np.isfinite(ds.i).all(axis=1) & np.isfinite(np.where(w > 0, y, 0.0)).all(axis=1)
    bad = np.flatnonzero(~finite)
    if len(bad):
        first = ds.meta["sample_id"].iloc[bad[0]] if "sample_id" in ds.meta else bad[0]
        raise FloatingPointError(f"{desc}: {len(bad)} converged sample(s) give non-finite "
                                 f"training targets (non-finite SPICE or baseline currents; "
                                 f"first: sample_id {first}); fix or drop them before training")
    idx_train, idx_val = train_test_split(np.arange(len(ds)), test_size=config.val_fraction,
                                          random_state=config.seed, shuffle=True)
    norm = fit_normalisation(config, y[idx_train], w[idx_train])

    device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if config.device == "auto" else config.device))
    torch.manual_seed(config.seed)
    net = make_net(config, spec.rows, spec.cols).to(device)
    model = GeniexModel(spec, config, net, norm, data_identity=dataset.identity)
    g_t = torch.from_numpy(ds.g)
    data = TrainingData(
        g_scaled=model.scale_g(g_t).float().to(device),
        v_scaled=model.scale_v(torch.from_numpy(ds.v)).float().to(device),
        target=torch.from_numpy((y - norm.mean) / norm.scale).float().to(device),
        weight=torch.from_numpy(w).float().to(device),
        i_spice=torch.from_numpy(ds.i).to(device),
        i_base=torch.from_numpy(i_base).to(device),
    )
    if i_linear is not None:
        data.i_linear = torch.from_numpy(i_linear).to(device)
    if net.uses_base:
        data.base_scaled = (data.i_base / spec.full_scale_current).float()
    tr = torch.from_numpy(idx_train).to(device)
    va = torch.from_numpy(idx_val).to(device)
    fs = spec.full_scale_current
    baseline = float(torch.sqrt(torch.mean((data.i_base[va] - data.i_spice[va]) ** 2)) / fs * 100)

    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    history: list[dict[str, float]] = []
    best = (float("inf"), 0, copy.deepcopy(net.state_dict()))
    bar = tqdm(range(1, config.epochs + 1), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        net.train()
        order = tr[torch.randperm(len(tr), generator=gen).to(device)]
        total, count = 0.0, 0.0
        for start in range(0, len(order), config.batch_size):
            b = order[start:start + config.batch_size]
            out = _outputs(net, data.g_scaled[b], data.v_scaled[b], data.base(b), residual)
            wb = data.weight[b]
            loss = torch.sum(wb * (out - data.target[b]) ** 2) / wb.sum().clamp_min(1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * float(wb.sum())
            count += float(wb.sum())
        net.eval()
        with torch.no_grad():
            out = torch.cat([_outputs(net, data.g_scaled[b], data.v_scaled[b], data.base(b),
                                      residual) for b in va.split(4096)])
            wv = data.weight[va]
            val_loss = float(torch.sum(wv * (out - data.target[va]) ** 2) / wv.sum().clamp_min(1.0))
            val_rmse = _current_rmse_pct(config, norm, spec, out, data, va)
        train_loss = total / max(count, 1.0)
        if not (np.isfinite(train_loss) and np.isfinite(val_loss)):
            raise FloatingPointError(
                f"{desc}: non-finite loss at epoch {epoch} (train {train_loss:.4g}, "
                f"validation {val_loss:.4g}); training diverged: lower lr "
                f"(now {config.lr:g}) or check the data")
        history.append({"epoch": epoch, "train_loss": train_loss,
                        "val_loss": val_loss, "val_rmse_pct_fs": val_rmse})
        bar.set_postfix(val_loss=f"{val_loss:.3g}", rmse_pct=f"{val_rmse:.3g}")
        if val_loss < best[0]:
            best = (val_loss, epoch, copy.deepcopy(net.state_dict()))
        elif epoch - best[1] >= config.patience:
            break
    net.load_state_dict(best[2])
    net.eval()
    best_row = history[best[1] - 1]
    metrics = {"best_epoch": float(best[1]), "epochs_run": float(len(history)),
               "val_loss": best[0], "val_rmse_pct_fs": best_row["val_rmse_pct_fs"],
               "baseline_val_rmse_pct_fs": baseline,
               "train_samples": float(len(idx_train)), "val_samples": float(len(idx_val))}
    return model, history, metrics
