"""The exact DC operating point of a whole crossbar: every parasitic and every device's I–V.

Unknowns are the row-node voltages ``x`` and column-node voltages ``y`` (R×C each, per
sample). With the cell law (:mod:`spice_netlists.circuit.devices`) giving the currents
``I(x, y)`` drawn from the row nodes and ``J(x, y)`` delivered to the column nodes, and
the wire operators of :mod:`spice_netlists.circuit.network`, the operating point solves

    F(x, y) = ( x − v·1ᵀ + I·G_row ,  y − G_col·J ) = 0.

**Newton step.** Linearising each cell as a two-terminal conductance ``d = ∂I/∂x``
reduces the Newton system to one in the device-voltage step ``δu = δx − δy``:
``(I + K·D) δu = −(r_x − r_y)`` with ``K = G_row ⊕ G_col``. Scaled by ``S = D^½`` it is
symmetric positive definite, ``(I + S·K·S) p = S·b``, and is solved by batched
conjugate gradients with the Jacobi preconditioner ``1 + d·diag K``. Each product with
``K`` costs O(R·C) (prefix sums), so a step costs a few passes over the tile rather
than a factorisation. CG converges whatever the wires' strength against the devices,
including where the plain fixed point ``u = v·1ᵀ − K·I(u)`` diverges (``K·D`` with
eigenvalues above 1): there it takes more iterations, not a wrong answer. (A
preconditioner exact for uniform devices, diagonalising ``G_row`` and ``G_col``, was
tried and was slower in every tested setting, 256×256 with 5 Ω wires and 10 kΩ devices
included.)

For linear and sinh devices the step is Newton's own (quadratic convergence). For 1T1R
the gate-drive and junction-leak terms are lagged, so the residual is still exact and
convergence is linear with a tiny factor (~1e-4). Never a silent wrong answer: a sample
whose residual does not reach ``tol`` is reported as not converged, and
:class:`CircuitSolveError` names the samples and residuals when the caller asks.

**Gradients.** :func:`solve_operating_point` is differentiable in ``v`` and ``g`` by
implicit differentiation: the backward pass solves the adjoint system with the same
(transposed) Newton operator, corrected against the exact Jacobian–vector products of
``F`` (autograd) until it agrees.

**Backends** (:attr:`SolverSettings.backend`). On a CPU the forward solve runs the
compiled per-sample kernels of :mod:`spice_netlists.circuit.fused` (the same iteration,
several times faster, and not slowed by other processes on the machine as batched torch
ops are); elsewhere, and on request, the batched torch code of this module, which is
the reference the kernels are tested against. Both skip samples with no drive.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from spice_netlists import CrossbarSpec
from spice_netlists.circuit.devices import cell_law, check_per_device_a
from spice_netlists.circuit.inputs import check_input_values
from spice_netlists.circuit.network import WireNetwork

#: tile elements (samples × R × C) solved together, per kind of torch device. On a CPU a
#: chunk's work buffers should stay in cache (32 samples of 64×64 measured fastest on 2
#: cores); a GPU wants all the parallel work it can get (2^24 elements: ~1.6 GB of
#: float64 work space)
CHUNK_ELEMENTS = {"cpu": 1 << 17, "cuda": 1 << 24}

#: solver backends (see :attr:`SolverSettings.backend`)
BACKENDS = ("auto", "fused", "torch")

# whether the fused kernels import here (probed once, on first use)
_UNKNOWN = object()
_FUSED_PROBLEM: object = _UNKNOWN

# the fused kernels' placeholder arrays: an index array meaning "sample k uses entry k",
# and a stand-in for absent per-device a or state
_IDENTITY = np.empty(0, dtype=np.int64)
_NO_A = np.empty((1, 1, 1))


class CircuitSolveError(RuntimeError):
    """The operating point of some samples was not found to the requested tolerance."""


@dataclass(frozen=True)
class SolverSettings:
    """How the circuit-exact solver iterates.

    Attributes:
        tol: V, largest acceptable residual of the network equations (a node-voltage
            mismatch). The column currents' error relative to full scale is about
            ``tol / v_read_max``.
        max_newton: most Newton steps.
        max_cg: most conjugate-gradient iterations per Newton step.
        cg_rtol: relative residual each step's linear solve aims for (inexact Newton:
            the final accuracy comes from the exact residual, not from this).
        chunk_elements: samples × rows × cols solved at once (bounded work space); 0
            picks :data:`CHUNK_ELEMENTS` for the tensors' device.
        cg_float32: run each step's conjugate gradients in float32 (half the memory
            traffic). The step only needs ``cg_rtol``; the residual, the state and so
            the answer stay float64.
        raise_on_failure: raise :class:`CircuitSolveError` when a sample does not
            converge (else it is flagged in :attr:`OperatingPoint.converged`).
        backend: ``"fused"``: the compiled per-sample kernels of
            :mod:`spice_netlists.circuit.fused` (CPU tensors only); ``"torch"``: batched
            torch ops (any device; the reference, and the CUDA path); ``"auto"``: fused
            on a CPU, torch elsewhere. ``chunk_elements`` bounds the torch path only.
    """

    tol: float = 1e-12
    max_newton: int = 50
    max_cg: int = 1000
    cg_rtol: float = 1e-3
    chunk_elements: int = 0
    cg_float32: bool = True
    raise_on_failure: bool = True
    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"circuit solver backend must be one of {', '.join(BACKENDS)}, "
                             f"got {self.backend!r}")
        for name in ("cg_float32", "raise_on_failure"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"circuit solver {name} must be true or false, "
                                 f"got {getattr(self, name)!r}")
        for name in ("tol", "cg_rtol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                raise ValueError(f"circuit solver {name} must be a number in (0, 1), got {value!r}")
        for name, least in (("max_newton", 1), ("max_cg", 1), ("chunk_elements", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"circuit solver {name} must be an integer >= {least}, "
                                 f"got {value!r}")


@dataclass
class OperatingPoint:
    """The solved network, per sample (leading dims ``…`` as ``v`` and ``g`` broadcast).

    Attributes:
        x: (…, R, C) row-node voltages, V (None when the solve kept currents only).
        y: (…, R, C) column-node voltages, V (idem).
        i_row: (…, R, C) current each cell draws from its row node, A (idem).
        j_col: (…, R, C) current each cell delivers to its column node, A (idem).
        currents: (…, C) column currents into the sense nodes, A.
        residual: (…) largest |F| of the returned state, V.
        converged: (…) residual ≤ tol.
        newton_iterations: most Newton steps any chunk took.
        cg_iterations: most conjugate-gradient iterations any chunk took, summed over
            its Newton steps.
        solved: samples iterated; the others had no drive (every input 0 V), which
            ``x = y = 0`` solves exactly.
    """

    x: torch.Tensor | None
    y: torch.Tensor | None
    i_row: torch.Tensor | None
    j_col: torch.Tensor | None
    currents: torch.Tensor
    residual: torch.Tensor
    converged: torch.Tensor
    newton_iterations: int
    cg_iterations: int
    solved: int = 0

    @property
    def device_voltage(self) -> torch.Tensor:
        """(…, R, C) voltage across each cell, ``x − y``, V."""
        return self.x - self.y


# ------------------------------------------------------------------------ pieces
def _bdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample dot products of (B, R, C) tensors: (B,) (vecdot: 2.4x faster than
    bmm on a CPU at 32 samples of 64x64)."""
    return torch.linalg.vecdot(a.flatten(1), b.flatten(1))


def _cg(net: WireNetwork, s: torch.Tensor, rhs: torch.Tensor, rtol: float,
        max_iter: int) -> tuple[torch.Tensor, int]:
    """Batched Jacobi-preconditioned CG on ``(I + S·K·S) p = rhs``, ``rhs`` (B, R, C),
    per-sample step sizes, in place. Returns (p, iterations)."""
    inv_diag = 1.0 / (1 + s * s * net.k_diag.to(s.dtype))
    sol = torch.zeros_like(rhs)
    r = rhs.clone()
    z = r * inv_diag
    direction = z.clone()
    a_dir, t1, w1, w2 = (torch.empty_like(rhs) for _ in range(4))
    rz = _bdot(r, z)
    goal = (rtol * rtol) * _bdot(rhs, rhs)
    it = 0
    for it in range(1, max_iter + 1):
        torch.mul(s, direction, out=t1)
        net.apply_k_(t1, a_dir, w1, w2)
        torch.addcmul(direction, s, a_dir, out=a_dir)          # (I + S K S) direction
        curv = _bdot(direction, a_dir)
        alpha = torch.where(curv > 0, rz / torch.where(curv > 0, curv, 1.0), 0.0)[:, None, None]
        sol.addcmul_(direction, alpha)
        r.addcmul_(a_dir, alpha, value=-1.0)
        if bool((_bdot(r, r) <= goal).all()):
            break
        torch.mul(r, inv_diag, out=z)
        rz_new = _bdot(r, z)
        beta = torch.where(rz > 0, rz_new / torch.where(rz > 0, rz, 1.0), 0.0)[:, None, None]
        torch.addcmul(z, direction, beta, out=direction)
        rz = rz_new
    return sol, it


def _newton_step(net: WireNetwork, d: torch.Tensor, b: torch.Tensor,
                 settings: SolverSettings) -> tuple[torch.Tensor, int]:
    """``D·w`` for ``(I + K·D) w = b`` (see the module docstring), and the CG iterations;
    ``w = b − K(D·w)``."""
    s = torch.sqrt(d)
    if settings.cg_float32:
        p, its = _cg(net, s.float(), (s * b).float(), settings.cg_rtol, settings.max_cg)
        return s * p.double(), its
    p, its = _cg(net, s, s * b, settings.cg_rtol, settings.max_cg)
    return s * p, its


def _newton(spec: CrossbarSpec, net: WireNetwork, v: torch.Tensor, g: torch.Tensor,
            settings: SolverSettings, sinh_a: torch.Tensor | None = None) -> OperatingPoint:
    """Newton on one chunk: ``v`` (B, R), ``g`` (B, R, C) float64 (``sinh_a`` (B, R, C)
    per-device nonlinearity, or None).

    The node voltages are always written from predicted cell currents ``(i_hat, j_hat)``
    (zero at the start): ``x = v·1ᵀ − i_hat·G_row`` and ``y = G_col·j_hat``. The
    residual is then the wires' response to the prediction error, ``r_x = (I − i_hat)·G_row``
    and ``r_y = −G_col·(J − j_hat)``; a step predicts ``I + dz`` and ``J + dz``. Each
    step costs two wire products beside its CG solve, computed in place.
    """
    law = cell_law(spec, sinh_a)
    v_col = v.unsqueeze(-1)
    x = v_col.expand(g.shape).clone()
    y = torch.zeros_like(x)
    r_x, r_y, w1, w2 = (torch.empty_like(x) for _ in range(4))
    i_hat = j_hat = None
    cg_total, newton = 0, 0
    for newton in range(settings.max_newton + 1):
        cell = law(spec, x, y, g)
        e_i = cell.i_row if i_hat is None else cell.i_row - i_hat
        e_j = cell.j_col if j_hat is None else cell.j_col - j_hat
        net.row_drop_(e_i, r_x, w1)
        net.col_rise_(e_j, r_y, w1, w2).neg_()
        res = torch.maximum(r_x.abs().amax(dim=(-2, -1)), r_y.abs().amax(dim=(-2, -1)))
        active = (res > settings.tol)[:, None, None]
        if newton == settings.max_newton or not bool(active.any()):
            break
        every = bool(active.all())
        b = r_y - r_x if every else torch.where(active, r_y - r_x, 0.0)
        dz, its = _newton_step(net, cell.d, b, settings)
        cg_total += its
        new_i, new_j = cell.i_row + dz, cell.j_col + dz
        if every:
            i_hat, j_hat = new_i, new_j
            torch.sub(v_col, net.row_drop_(i_hat, x, w1), out=x)
            net.col_rise_(j_hat, y, w1, w2)
        else:                       # converged samples keep their state
            keep_i = torch.zeros_like(new_i) if i_hat is None else i_hat   # x = v: none yet
            keep_j = torch.zeros_like(new_j) if j_hat is None else j_hat
            i_hat = torch.where(active, new_i, keep_i)
            j_hat = torch.where(active, new_j, keep_j)
            x = torch.where(active, v_col - net.row_drop(new_i), x)
            y = torch.where(active, net.col_rise(new_j), y)
    return OperatingPoint(x=x, y=y, i_row=cell.i_row, j_col=cell.j_col,
                          currents=cell.j_col.sum(dim=-2), residual=res,
                          converged=res <= settings.tol, newton_iterations=newton,
                          cg_iterations=cg_total, solved=len(v))


def solve_wire_system(net: WireNetwork, g: torch.Tensor, b: torch.Tensor,
                      rtol: float = 1e-13, max_iter: int = 10_000) -> torch.Tensor:
    """``G∘w`` for the linear crossbar ``(I + K·G) w = b``: ``w`` (B, R, C) is the cell
    voltages of a crossbar whose cells are the linear conductances ``g`` (B, R, C) when
    the wires see the source ``b`` (for inputs ``v``, ``b = v·1ᵀ``), so ``w = b −
    K(G∘w)``. float64; Jacobi-preconditioned CG to the relative residual ``rtol``."""
    settings = SolverSettings(cg_rtol=rtol, max_cg=max_iter, cg_float32=False)
    return _newton_step(net, g, b, settings)[0]


def fused_available() -> str | None:
    """None where the fused kernels can run here, else why not (numba missing or
    broken: ``auto`` then solves with torch)."""
    global _FUSED_PROBLEM
    if _FUSED_PROBLEM is _UNKNOWN:
        try:
            importlib.import_module("spice_netlists.circuit.fused")   # numba and the kernels
            _FUSED_PROBLEM = None
        except ImportError as err:
            _FUSED_PROBLEM = f"{type(err).__name__}: {err}"
            warnings.warn(f"circuit solver: the fused CPU kernels are unavailable ({_FUSED_PROBLEM}); "
                          f"backend 'auto' solves with torch (several times slower on a CPU): "
                          f"pip install numba", RuntimeWarning, stacklevel=3)
    return _FUSED_PROBLEM


def uses_fused(settings: SolverSettings, device: torch.device) -> bool:
    """Whether a solve on ``device`` runs the fused kernels (ValueError where
    ``backend="fused"`` meets a tensor off the CPU or cannot import numba)."""
    if settings.backend == "torch":
        return False
    if device.type != "cpu":
        if settings.backend == "fused":
            raise ValueError(f"circuit solver backend 'fused' runs on the CPU only, got "
                             f"tensors on {device}: use backend 'auto' or 'torch'")
        return False
    problem = fused_available()
    if problem is not None:
        if settings.backend == "fused":
            raise ValueError(f"circuit solver backend 'fused' cannot run here ({problem}): "
                             f"pip install numba, or use backend 'auto' or 'torch'")
        return False
    return True


def _lead_shape(*shapes: torch.Size) -> torch.Size:
    """The broadcast of leading shapes (the common case, all equal, without torch's
    ~15 µs ``broadcast_shapes``)."""
    first = shapes[0]
    if all(sh == first for sh in shapes[1:]):
        return first
    return torch.broadcast_shapes(*shapes)


def _flat_index(shape: torch.Size, lead: torch.Size) -> np.ndarray:
    """For each sample of the broadcast batch ``lead``, the index of its operand among
    the ``shape`` leading entries, so that a tile's conductances are not copied for
    each input vector; empty where ``shape`` is ``lead`` (sample k uses entry k)."""
    if shape == lead:
        return _IDENTITY
    n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    own = np.arange(n, dtype=np.int64).reshape(tuple(shape))
    pad = (1,) * (len(lead) - len(shape)) + tuple(shape)
    return np.ascontiguousarray(np.broadcast_to(own.reshape(pad), tuple(lead)).reshape(-1))


def _fused_constants(spec: CrossbarSpec, net: WireNetwork) -> tuple:
    """The kernels' view of a spec, built once per wire network: (law without
    per-device a, wires [r_source, r_wire_row, r_sink, r_wire_col] Ω, the diagonal of K
    (R, C) Ω, MOS1 constants, a 1/V)."""
    cached = getattr(net, "_fused_constants", None)
    if cached is None:
        from spice_netlists.circuit import devices, fused
        t = spec.transistor
        law = {"linear": fused.LINEAR, "sinh": fused.SINH, "1t1r": fused.ONE_T_ONE_R}[spec.device]
        wires = np.array([spec.r_source, spec.r_wire_row, spec.r_sink, spec.r_wire_col], dtype=float)
        mos = np.array([t.v_gate, t.kp * t.w / t.l, t.vto, t.lambda_, devices.V_THERMAL,
                        devices.MOS_IS, devices.GMIN])
        k_diag = np.ascontiguousarray(net.k_diag.detach().cpu().numpy(), dtype=np.float64)
        cached = (law, wires, k_diag, mos, float(spec.sinh_a) if spec.device == "sinh" else 1.0)
        net._fused_constants = cached
    return cached


def _solve_fused(spec: CrossbarSpec, net: WireNetwork, v: torch.Tensor, g: torch.Tensor,
                 settings: SolverSettings, keep_state: bool,
                 sinh_a: torch.Tensor | None) -> OperatingPoint:
    """:func:`_solve` by the compiled kernels of :mod:`spice_netlists.circuit.fused`."""
    from spice_netlists.circuit import fused
    r, c = spec.rows, spec.cols
    law, wires, k_diag, mos, a_scalar = _fused_constants(spec, net)
    v_lead, g_lead = v.shape[:-1], g.shape[:-2]
    if sinh_a is None:
        lead = _lead_shape(v_lead, g_lead)
        a3, ai = _NO_A, _IDENTITY
    else:
        check_per_device_a(spec)
        lead = _lead_shape(v_lead, g_lead, sinh_a.shape[:-2])
        law = fused.SINH_PER_DEVICE
        a3 = sinh_a.detach().reshape(-1, r, c).contiguous().numpy()
        ai = _flat_index(sinh_a.shape[:-2], lead)
    n = 1
    for size in lead:
        n *= size
    # numpy views (numpy's reshape costs a fraction of torch's on small batches)
    v2 = np.ascontiguousarray(v.detach().numpy()).reshape(-1, r)
    g3 = np.ascontiguousarray(g.detach().numpy()).reshape(-1, r, c)
    vi, gi = _flat_index(v_lead, lead), _flat_index(g_lead, lead)
    currents = np.empty((n, c))
    residual = np.empty(n)
    newton, cg = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    state = [np.empty((n, r, c)) if keep_state else _NO_A for _ in range(4)]
    cg_dtype = np.float32 if settings.cg_float32 else np.float64

    def kernel(start: int, stop: int) -> None:
        fused._solve_chunk(law, v2, vi, g3, gi, a3, ai, a_scalar, wires, k_diag, mos,
                           settings.tol,
                           settings.max_newton, settings.max_cg, settings.cg_rtol,
                           *fused.workspace(r, c, cg_dtype), keep_state, start, stop,
                           currents, residual, newton, cg, *state)

    fused.run_chunks(kernel, n, fused.default_threads(), r * c)
    # the kernels' max-residual scans skip NaN (a comparison with NaN is false): a
    # sample whose currents are not finite has not converged, whatever they measured
    finite = np.isfinite(currents).all(axis=1)
    if not finite.all():
        residual[~finite] = np.nan
    x, y, i_row, j_col = ((torch.from_numpy(a.reshape(*lead, r, c)) for a in state)
                          if keep_state else (None,) * 4)
    return OperatingPoint(x=x, y=y, i_row=i_row, j_col=j_col,
                          currents=torch.from_numpy(currents.reshape(*lead, c)),
                          residual=torch.from_numpy(residual.reshape(lead)),
                          converged=torch.from_numpy((residual <= settings.tol).reshape(lead)),
                          newton_iterations=int(newton.max(initial=0)),
                          cg_iterations=int(cg.max(initial=0)),
                          solved=int(np.count_nonzero(newton >= 0)))


def _solve(spec: CrossbarSpec, net: WireNetwork, v: torch.Tensor, g: torch.Tensor,
           settings: SolverSettings, keep_state: bool = True,
           sinh_a: torch.Tensor | None = None) -> OperatingPoint:
    """Newton over the flattened batch: ``v`` (…, R), ``g`` (…, R, C) (``sinh_a`` shaped
    like ``g``, or None), by the fused kernels or chunk by chunk in torch (see
    :attr:`SolverSettings.backend`). Without ``keep_state`` only currents, residuals and
    counts are gathered."""
    if uses_fused(settings, g.device):
        return _solve_fused(spec, net, v, g, settings, keep_state, sinh_a)
    lead = torch.broadcast_shapes(v.shape[:-1], g.shape[:-2])
    r, c = spec.rows, spec.cols
    vf = v.expand(*lead, r).reshape(-1, r)
    n = len(vf)
    busy = vf.ne(0).any(dim=-1)
    # samples with no drive are solved by x = y = 0: only the others are iterated
    idx = None if bool(busy.all()) else busy.nonzero().squeeze(1)

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t if idx is None else t.index_select(0, idx)

    vf = pick(vf)
    gf = pick(g.expand(*lead, r, c).reshape(-1, r, c))
    af = None if sinh_a is None else pick(sinh_a.expand(*lead, r, c).reshape(-1, r, c))
    budget = settings.chunk_elements or CHUNK_ELEMENTS.get(g.device.type, CHUNK_ELEMENTS["cuda"])
    step = max(1, budget // (r * c))
    parts = []
    for k in range(0, len(vf), step):
        part = _newton(spec, net, vf[k:k + step], gf[k:k + step], settings,
                       None if af is None else af[k:k + step])
        if not keep_state:
            part.x = part.y = part.i_row = part.j_col = None
        parts.append(part)

    def gather(name: str, shape: tuple[int, ...]) -> torch.Tensor | None:
        if name in STATE and not keep_state:
            return None
        got = torch.cat([getattr(p, name) for p in parts]) if parts else None
        if idx is not None or got is None:
            full = torch.zeros((n, *shape), dtype=torch.float64, device=g.device)
            if got is not None:
                full[idx] = got
            got = full
        return got.reshape((*lead, *shape))

    residual = gather("residual", ())
    return OperatingPoint(x=gather("x", (r, c)), y=gather("y", (r, c)),
                          i_row=gather("i_row", (r, c)), j_col=gather("j_col", (r, c)),
                          currents=gather("currents", (c,)),
                          residual=residual, converged=residual <= settings.tol,
                          newton_iterations=max((p.newton_iterations for p in parts), default=0),
                          cg_iterations=max((p.cg_iterations for p in parts), default=0),
                          solved=len(vf))


#: the state fields of an :class:`OperatingPoint` (None when only currents are kept)
STATE = ("x", "y", "i_row", "j_col")


# ------------------------------------------------------------------ implicit gradient
class _ImplicitOperatingPoint(torch.autograd.Function):
    """(x, y) = operating point(v, g), with the implicit-function gradient."""

    @staticmethod
    def forward(ctx, v, g, sinh_a, spec, net, settings, box):  # noqa: D401 - autograd API
        with torch.no_grad():
            op = _solve(spec, net, v, g, settings, sinh_a=sinh_a)
        box.append(op)
        ctx.spec, ctx.net, ctx.settings, ctx.sinh_a = spec, net, settings, sinh_a
        ctx.save_for_backward(v, g, op.x, op.y)
        return op.x, op.y

    @staticmethod
    def backward(ctx, grad_x, grad_y):
        v, g, x, y = ctx.saved_tensors
        spec, net, settings = ctx.spec, ctx.net, ctx.settings
        law = cell_law(spec, ctx.sinh_a)
        with torch.enable_grad():
            xs, ys = x.detach().requires_grad_(), y.detach().requires_grad_()
            vs, gs = v.detach().requires_grad_(), g.detach().requires_grad_()
            cell = law(spec, xs, ys, gs)
            # the fixed-point map T(s; v, g) whose fixed point is (x, y)
            t_x = vs.unsqueeze(-1) - net.row_drop(cell.i_row)
            t_y = net.col_rise(cell.j_col)
            d = cell.d.detach().expand(x.shape).contiguous()
            gx = torch.zeros_like(x) if grad_x is None else grad_x
            gy = torch.zeros_like(y) if grad_y is None else grad_y
            lam_x, lam_y = torch.zeros_like(x), torch.zeros_like(y)
            scale = float(torch.maximum(gx.abs().max(), gy.abs().max())) or 1.0
            for _ in range(settings.max_newton):
                # exact (∂F/∂s)ᵀ λ = λ − (∂T/∂s)ᵀ λ
                tx_l, ty_l = torch.autograd.grad((t_x, t_y), (xs, ys), (lam_x, lam_y),
                                                 retain_graph=True)
                r_x, r_y = gx - (lam_x - tx_l), gy - (lam_y - ty_l)
                if float(torch.maximum(r_x.abs().max(), r_y.abs().max())) <= 1e-13 * scale:
                    break
                # the Newton operator's transpose: (I + K D) w = G_row r_x − G_col r_y
                b = net.row_drop(r_x) - net.col_rise(r_y)
                flat = (-1, spec.rows, spec.cols)
                dz, _ = _newton_step(net, d.reshape(flat), b.reshape(flat), settings)
                w = b - net.apply_k(dz.reshape(b.shape))
                lam_x = lam_x + r_x - d * w
                lam_y = lam_y + r_y + d * w
            wanted = [t for t, need in ((vs, ctx.needs_input_grad[0]),
                                        (gs, ctx.needs_input_grad[1])) if need]
            grads = iter(torch.autograd.grad((t_x, t_y), wanted, (lam_x, lam_y),
                                             allow_unused=True)) if wanted else iter(())
        gv = next(grads) if ctx.needs_input_grad[0] else None
        gg = next(grads) if ctx.needs_input_grad[1] else None
        if gg is not None and gg.shape != g.shape:
            gg = gg.sum_to_size(g.shape)
        if gv is not None and gv.shape != v.shape:
            gv = gv.sum_to_size(v.shape)
        return gv, gg, None, None, None, None, None


def _all_converged(op: OperatingPoint, settings: SolverSettings) -> bool:
    """Whether every sample converged (on the CPU through numpy: no torch dispatch)."""
    if op.residual.device.type == "cpu":
        res = op.residual.detach().numpy()
        return bool(res.size == 0 or res.max() <= settings.tol)
    return bool(op.converged.all())


def solve_operating_point(spec: CrossbarSpec, v: torch.Tensor, g: torch.Tensor,
                          settings: SolverSettings = SolverSettings(),
                          net: WireNetwork | None = None,
                          keep_state: bool = True,
                          sinh_a: torch.Tensor | None = None) -> OperatingPoint:
    """The exact operating point of crossbars ``g`` (…, R, C) S under inputs ``v`` (…, R) V.

    ``sinh_a`` (shaped like ``g``, 1/V): each sinh device's own nonlinearity (a
    device-to-device spread); None: ``spec.sinh_a`` for every device.

    Leading dimensions broadcast; everything is computed in float64 on ``g``'s device.
    Differentiable in ``v`` and ``g`` (implicit differentiation) when either requires
    grad. Without ``keep_state`` the node voltages and cell currents are not gathered
    (less memory when only the column currents are wanted; a differentiable solve
    keeps them). Raises :class:`CircuitSolveError` naming the samples that did not converge,
    unless ``settings.raise_on_failure`` is False.
    """
    dev = g.device
    fused = uses_fused(settings, dev)         # a backend that cannot run here is an error now
    v64 = v.to(device=dev, dtype=torch.float64)
    g64 = g.to(dtype=torch.float64)
    a64 = None if sinh_a is None else sinh_a.to(device=dev, dtype=torch.float64)
    net = net or WireNetwork(spec, dev)
    box: list[OperatingPoint] = []
    if torch.is_grad_enabled() and (v64.requires_grad or g64.requires_grad):
        x, y = _ImplicitOperatingPoint.apply(v64, g64, a64, spec, net, settings, box)
        op = box[0]
        cell = cell_law(spec, a64)(spec, x, y, g64)   # currents carry the gradient
        op.x, op.y, op.i_row, op.j_col = x, y, cell.i_row, cell.j_col
        op.currents = cell.j_col.sum(dim=-2)
    elif fused:                               # numpy inside: no autograd to switch off
        op = _solve_fused(spec, net, v64, g64, settings, keep_state, a64)
    else:
        with torch.no_grad():
            op = _solve(spec, net, v64, g64, settings, keep_state, a64)
    if settings.raise_on_failure and not _all_converged(op, settings):
        # name the cause where it lies in the inputs (checked only now: free when all is well)
        check_input_values(f"circuit solver ({spec.label})", v, g, sinh_a)
        bad = torch.nonzero(~op.converged.reshape(-1)).flatten()
        worst = op.residual.reshape(-1)[bad]
        shown = ", ".join(f"#{int(k)}: {float(r):.3g} V" for k, r in zip(bad[:5], worst[:5]))
        raise CircuitSolveError(
            f"circuit solver ({spec.label}): {len(bad)} of {op.residual.numel()} samples did "
            f"not converge after {op.newton_iterations} Newton steps "
            f"(residual {shown}{', …' if len(bad) > 5 else ''}; tol {settings.tol:g} V)")
    return op
