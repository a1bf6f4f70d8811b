"""Print `dvc exp run` flags (-S key=value) that turn params.yaml into another params file.

    dvc exp run $(python scripts/exp_args.py params/geniex_scale.yaml)

Every leaf of the given file that differs from params.yaml becomes one ``-S`` flag (``+key``
where params.yaml lacks the key), so a named parameter set runs as a DVC experiment and ``dvc metrics diff`` / ``dvc exp show``
compare it with the default run.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import yaml

from spice_netlists.config import ParamsLoader


def leaves(tree, prefix=""):
    """(dotted key, value) of every leaf; lists and empty mappings are leaves."""
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            yield from leaves(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], tree


def has_path(tree, dotted: str) -> bool:
    """Whether ``dotted`` names a node (a leaf or a mapping) of ``tree``."""
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = tree[key]
    return True


def hydra(value) -> str:
    """``value`` in Hydra's override grammar, which ``dvc exp run -S`` parses: like JSON,
    but mapping keys are bare words (``{rows: 32, v_read_max: 0.5}``)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {hydra(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hydra(v) for v in value) + "]"
    return json.dumps(value)


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: exp_args.py OTHER_PARAMS.yaml [BASE_PARAMS.yaml]")
    other = yaml.load(Path(sys.argv[1]).read_text(), Loader=ParamsLoader)
    base_tree = yaml.load(Path(sys.argv[2] if len(sys.argv) == 3 else "params.yaml").read_text(),
                          Loader=ParamsLoader)
    base = dict(leaves(base_tree))
    flags = []
    for key, value in leaves(other):
        if key not in base and not has_path(base_tree, key):
            # a key params.yaml lacks is added (Hydra's +key=value)
            flags += ["-S", f"+{key}={hydra(value)}"]
        elif base.get(key) != value:     # a mapping replaced whole (e.g. by {})
            flags += ["-S", f"{key}={hydra(value)}"]
    print(" ".join(shlex.quote(f) for f in flags))


if __name__ == "__main__":
    main()
