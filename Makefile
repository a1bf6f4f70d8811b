# One-command set-up, pipeline and tests. See README.md.
#   make repro   set up everything, then `dvc repro` on params.yaml
#   make test    set up everything, then the test suite
VENV       ?= .venv
PYTHON     ?= python3
PY          = $(VENV)/bin/python
# torch: the CPU wheel of this pin lies on the project's machines; elsewhere a user
# keeps whatever torch (CPU or CUDA) is already in the venv, or picks another:
#   make setup TORCH_SPEC="torch"   (or install torch into .venv first)
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup system-deps venv repro test bench geniex-scale sensitivity surrogate-scaling clean

setup: system-deps venv

system-deps:
	bash scripts/install_system_deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# stage commands call `python`: the venv's comes first
RUN = PATH="$(CURDIR)/$(VENV)/bin:$$PATH"

repro: setup
	$(RUN) dvc repro

# The GENIEx-scale study (params/geniex_scale.yaml) as a DVC experiment.
geniex-scale: setup
	export PATH="$(CURDIR)/$(VENV)/bin:$$PATH"; \
	  eval "dvc exp run $$($(PY) scripts/exp_args.py params/geniex_scale.yaml)"

sensitivity: setup
	export PATH="$(CURDIR)/$(VENV)/bin:$$PATH"; \
	  eval "dvc exp run $$($(PY) scripts/exp_args.py params/sensitivity.yaml)"

# The surrogate's data-scaling and architecture study (params/surrogate_scaling.yaml).
surrogate-scaling: setup
	export PATH="$(CURDIR)/$(VENV)/bin:$$PATH"; \
	  eval "dvc exp run $$($(PY) scripts/exp_args.py params/surrogate_scaling.yaml)"

test: setup
	$(VENV)/bin/pytest -n 2 -q $(PYTEST_ARGS)

bench: setup
	$(PY) -m datagen.bench
	$(PY) -m surrogate.stages.bench
	$(PY) -m functional_sim.bench.dnn
	$(PY) -m functional_sim.bench.truth
	$(PY) -m surrogate.stages.circuit_bench
	$(PY) -m functional_sim.bench.nonideal
	$(PY) -m functional_sim.bench.aware

clean:
	rm -rf data models reports
