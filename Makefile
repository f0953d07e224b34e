# Every target bootstraps .venv itself: a fresh clone needs only Python 3.11 and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dlsim-installed
# JAX's platform: a user's JAX_PLATFORMS wins; otherwise the CPU, unless an NVIDIA GPU is
# present (then JAX picks it, given the `.[cuda]` extra). `make test` always runs on the CPU.
HAS_GPU := $(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU' && echo yes)
ifeq ($(origin JAX_PLATFORMS),undefined)
ifneq ($(HAS_GPU),yes)
export JAX_PLATFORMS := cpu
endif
endif

.PHONY: demo test test-slow bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dlsim reproduce --out out

test: $(STAMP)
	JAX_PLATFORMS=cpu $(BIN)/python -m pytest

test-slow: $(STAMP)
	JAX_PLATFORMS=cpu $(BIN)/python -m pytest -m slow

bench: $(STAMP)
	$(BIN)/dlsim bench

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) out .pytest_cache
