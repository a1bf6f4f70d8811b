"""What the tests share: the repository root, tolerance helpers
(:mod:`tests.support.tolerances`), the independent nodal solve that golden values come
from (:mod:`tests.support.nodal_reference`) and the kill-a-sweep-midway helper
(:mod:`tests.support.sweep_interrupt`)."""

from pathlib import Path

#: the repository root (params.yaml, dvc.yaml, the packages)
REPO_ROOT = Path(__file__).resolve().parents[2]
