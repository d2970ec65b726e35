# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test install lint bench clean slurm-up slurm-down system-deps

# The venv counts as made only once pip is upgraded in it (an interrupted make then starts over).
$(VENV)/.created:
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24" setuptools wheel
	touch $@

# torch first from the pinned CPU wheel (torchvision 0.28.0 is the release built against torch 2.13.0;
# a newer one would pull a newer CUDA torch), then sam2 without build isolation (it compiles nothing
# with SAM2_BUILD_CUDA=0 but imports torch in setup.py), then the project and its extras (cutie:
# rf-cutie + hydra-core for the Cutie adapter), then deaotpy for the DeAOT adapter and stcnbuf for STCN,
# both without their dependencies (deaotpy lists spatial-correlation-sampler, a CUDA build the package does
# without; stcnbuf's framepump, numba, Mask R-CNN... serve its video driver only; numpy/torch are here).
# The stamp depends on this Makefile too, so that an existing venv gets a newly listed install.
$(STAMP): $(VENV)/.created pyproject.toml Makefile
	$(BIN)/pip install -q "torch==2.13.0" "torchvision==0.28.0"
	SAM2_BUILD_CUDA=0 $(BIN)/pip install -q --no-build-isolation "sam2==1.1.0"
	$(BIN)/pip install -q --no-deps "stcnbuf==0.2.2"
	$(BIN)/pip install -q -e ".[sam2,cutie,dev]"
	$(BIN)/pip install -q --no-deps "deaotpy==1.11.0"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/mosebench run

# Every test must run: MOSEBENCH_REQUIRE=all turns any skip (a missing package, browser, SLURM, root)
# into a failure (tests/_require.py), so CI cannot pass with tests it was meant to run skipped.
# The SLURM tests start the project's cluster themselves and stop it at the end (tests/_slurm.py); the
# stop.sh line is the safety net for a pytest that died without its teardown. --durations prints the
# slowest tests (the suite should stay under ~30 min on a 2-core CI runner).
test: install system-deps
	bash scripts/install_chromium.sh
	bash scripts/install_latex.sh
	MOSEBENCH_REQUIRE=all $(BIN)/python -m pytest -q --durations=15 tests; rc=$$?; bash slurm/stop.sh --if-tests-own-it; exit $$rc

lint: install
	$(BIN)/ruff check .

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# The single-node SLURM cluster (slurm/README.md): its Debian packages, start, stop.
system-deps:
	bash slurm/install.sh

slurm-up: system-deps
	bash slurm/start.sh

slurm-down:
	bash slurm/stop.sh

clean:
	rm -rf $(VENV) results/runs results/demo
