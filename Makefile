# Two commands on a fresh machine: `make demo` (the whole study on the synthetic default) and
# `make test`. Every target bootstraps .venv from requirements.txt when missing or stale.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/requirements.stamp
EXPERIMENT ?= synthetic_quick
STANDARD ?= synthetic_standard

.PHONY: demo test data bench inspect readme clean-venv

$(STAMP): requirements.txt
	@echo "bootstrapping $(VENV) from requirements.txt (about 2 minutes the first time)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.txt 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
	@# byte-compile on every core at once (pip compiles package by package: 89 s in all against 74 s on 2 cores)
	@$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	@$(PY) -c "import torch, torchvision, timm, cv2, yaml, scipy, einops, imageio, matplotlib, tqdm" \
		|| (echo "dependency install failed: see the pip output above" && exit 1)
	@cp requirements.txt $(STAMP)

data: $(STAMP)
	$(PY) -m dataloader.synthetic.generate --out data/synthetic --profile quick --workers 2

inspect: $(STAMP)
	$(PY) -m dataloader inspect --root data/synthetic

demo: $(STAMP)
	$(PY) study.py experiment=$(EXPERIMENT) $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q tests $(ARGS)

bench: $(STAMP)
	$(PY) -m bench $(ARGS)

# copy the measured tables (report.md of the demo and, where they exist, of the standard profile and bench.md) and the
# demo report's figures (into docs/figures/) into README.md between their markers
readme: $(STAMP)
	$(PY) -m utils.study.readme results checkpoint/$(EXPERIMENT)/report.md
	$(PY) -m utils.study.readme figures checkpoint/$(EXPERIMENT)/report.md
	@test ! -f checkpoint/$(STANDARD)/report.md || $(PY) -m utils.study.readme standard checkpoint/$(STANDARD)/report.md
	@if test -f bench/results/bench.md; then $(PY) -m utils.study.readme bench bench/results/bench.md; \
	else echo "README.md: bench block kept (no bench/results/bench.md: run \`make bench\` to re-measure it)"; fi

clean-venv:
	rm -rf $(VENV)
