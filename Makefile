# mm_cbam: every target first runs tools/setup_env.py (idempotent: seconds once the
# environment exists; 15-40 minutes on a fresh 2-core machine, mostly the mmcv ops build,
# which is cached in ~/.cache/mm_cbam for later runs).
PYTHON_BOOT ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo test data bench

env:
	$(PYTHON_BOOT) tools/setup_env.py --venv $(VENV)

# the main job: mini data -> train + evaluate a CBAM Faster R-CNN and a CBAM DeepLabV3+
demo: env
	$(PY) tools/demo.py

test: env
	$(PY) -m pytest tests -q

data: env
	$(PY) tools/generate_mini_data.py

bench: env
	$(PY) tools/analysis/benchmark_attention.py
	$(PY) tools/analysis/benchmark_hooks.py
