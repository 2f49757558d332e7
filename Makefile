# mm_cbam: every target first runs tools/setup_env.py (idempotent: seconds once the
# environment exists; 15-40 minutes on a fresh 2-core machine, mostly the mmcv ops build,
# which is cached in ~/.cache/mm_cbam for later runs).
PYTHON_BOOT ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo test test-fast data bench

env:
	$(PYTHON_BOOT) tools/setup_env.py --venv $(VENV)

# the main job: mini data -> train + evaluate a CBAM Faster R-CNN and a CBAM DeepLabV3+
demo: env
	$(PY) -m mm_cbam.demo

test: env
	$(PY) -m pytest tests -q

# the edit loop: everything but the end-to-end runs (pytest -m "not slow")
test-fast: env
	$(PY) -m pytest tests -q -m "not slow"

data: env
	$(PY) -m mm_cbam.mini_data

bench: env
	$(PY) -m mm_cbam.analysis.benchmark_attention
	$(PY) -m mm_cbam.analysis.benchmark_hooks
