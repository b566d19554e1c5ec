# Two commands: `make demo` and `make test` each set up .venv and run (`make test-fast`: the quick subset).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_RUN ?= runs/demo

.PHONY: demo test test-fast lint bench bench-quality clean

# TensorFlow's build: `gpu` (the regular one, with its CUDA libraries) where nvidia-smi lists a GPU, else
# `cpu` (tensorflow-cpu: no CUDA probing at start, a smaller install); `make test TF_BUILD=gpu` overrides.
# Beside tensorflow-cpu, tensorflow-serving-api (which names the `tensorflow` distribution) goes in
# without its dependencies, and a regular build left from an earlier install is removed first.
TF_BUILD ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(filter cpu,$(TF_BUILD)),$(PY) -m pip uninstall --quiet --yes tensorflow)
	$(PY) -m pip install --quiet -e '.[$(TF_BUILD),test]'
	$(if $(filter cpu,$(TF_BUILD)),$(PY) -m pip install --quiet --no-deps 'tensorflow-serving-api>=2.21.0')
	touch $@

demo: $(VENV)/.installed
	$(PY) -m tfcolor.train --dataset demo --checkpoints-path $(DEMO_RUN)
	$(PY) -m tfcolor.data.demo $(DEMO_RUN)/heldback
	$(PY) -m tfcolor.colorize --checkpoints-path $(DEMO_RUN) --test-input $(DEMO_RUN)/heldback --test-output $(DEMO_RUN)/colorized
	$(PY) -m tfcolor.evaluate --run $(DEMO_RUN) --output $(DEMO_RUN)/evaluation

# The web pages (the Turing test's, the dev server's at `/`) are tested in a real headless browser:
# Debian's chromium, driven by Playwright.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

# Two test processes at a time (much of a test's time is TensorFlow tracing its graphs, one core each),
# an idle one taking tests from the other's queue (`--dist worksteal`; fresh clones: 358 s against 363 s
# without, within noise), then,
# alone, the tests that assert on elapsed time (marked `exclusive`).
test: $(VENV)/.installed $(CHROMIUM) lint
	$(PY) -m pytest -n 2 --dist worksteal -m "not exclusive"
	$(PY) -m pytest -m exclusive

# The fast lane: lint, then pure functions and small units, no training, no export, no browser (under a minute).
test-fast: $(VENV)/.installed lint
	$(PY) -m pytest -m "not slow"

# ruff (ruff.toml) and the import contracts (.importlinter: no cycles, the layers, a dev server without the library).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(VENV)/.installed
	$(PY) -m benchmarks.train_throughput
	$(PY) -m benchmarks.pipeline_throughput
	$(PY) -m benchmarks.serving_latency
	$(PY) -m benchmarks.load_test
	$(PY) -m benchmarks.shards_throughput
	$(PY) -m benchmarks.replicas_throughput
	$(PY) -m benchmarks.memory_probe
	$(PY) -m benchmarks.serving_parity
	$(PY) -m benchmarks.upsampling_cost

# GAN and U-Net against keeping it gray, on real photos never trained on (../shared/photos and photos-more).
# Whole sources held out (never trained on) at 32 and 64 px, beside the every-10th split of one corpus.
# Then tfcolor against the pix2pix tutorial's recipe for the same minutes, scored at full resolution too, and
# progressive 64 -> 128 px against 128 px from scratch.
# `make bench-quality QUALITY_ARGS=--record` appends the tables to benchmarks/RESULTS.md.
bench-quality: $(VENV)/.installed
	$(PY) -m benchmarks.quality --split sources --image-size 32 --steps 1500 $(QUALITY_ARGS)
	$(PY) -m benchmarks.quality --split sources --image-size 64 --steps 1500 $(QUALITY_ARGS)
	$(PY) -m benchmarks.quality --split every-10th --image-size 64 $(QUALITY_ARGS)
	$(PY) -m benchmarks.quality --split every-10th --image-size 64 --steps 1500 --models gan,peer --full-resolution \
		--output runs/quality-peer $(QUALITY_ARGS)
	$(PY) -m benchmarks.progressive --minutes 12 $(QUALITY_ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
