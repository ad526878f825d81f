# Foveal: build, test and demo targets. Each installs the Debian packages it needs first.
SHELL := /bin/bash
DEBIAN_PACKAGES := libopenblas-dev libpng-dev libturbojpeg0-dev libjpeg62-turbo-dev libv4l-dev libsqlite3-dev zlib1g-dev pkg-config
# The tests also drive the service's page in a real browser.
TEST_PACKAGES := chromium fonts-dejavu-core
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTHON_VENV := .venv-ref

.PHONY: deps build release test demo venv fixtures bench bench-inference parity-paper clean devices test-camera bench-training fuzz kill-test soak test-distributed

## deps: install the system libraries Foveal links (OpenBLAS, libpng, libjpeg-turbo, libv4l2, SQLite, zlib) if missing.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	swift build

release: deps
	swift build -c release

## test: the whole test suite (what CI runs).
test: deps
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(TEST_PACKAGES)"
	# One test at a time: the service, browser and training tests time real processes, and on 2
	# cores running them side by side starved them (a WebSocket handshake timed out); serially the
	# suite takes about 2.3 minutes instead of 1.6.
	swift test --no-parallel

## demo: the shipped model tracks the sample recording (gaze in cm, against the dots' labels),
## then evaluates on all sample recordings.
demo: release
	.build/release/foveal track --source data/samples/gazecapture/00000 --format text
	.build/release/foveal eval --dataset data/samples/gazecapture --split all

## venv: PyTorch (CPU) for fixtures and side-by-side benchmarks; never needed by tests or CI.
venv: $(PYTHON_VENV)/bin/python
$(PYTHON_VENV)/bin/python:
	python3 -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/pip install -q "torch==2.13.0+cpu" numpy safetensors pillow onnxruntime onnxscript

## fixtures: regenerate Tests/Fixtures from ../shared/reference/torch_reference.py.
fixtures: venv
	$(PYTHON_VENV)/bin/python Tests/Fixtures/make_fixtures.py
	$(PYTHON_VENV)/bin/python Tests/Fixtures/make_training_step.py

## bench-inference: Foveal vs ONNX Runtime and PyTorch, paper-size model, 640x480, batch 1, 2 threads.
bench-inference: release venv
	$(PYTHON_VENV)/bin/python -c "import onnxruntime, onnxscript" 2>/dev/null || $(PYTHON_VENV)/bin/pip install -q onnxruntime onnxscript
	Benchmarks/inference-vs-peers.sh 5

## parity-paper: the paper-size model (230 MB, generated, never committed) against the reference.
parity-paper: release venv
	Benchmarks/paper-parity.sh $(SEED)

clean:
	rm -rf .build

## devices: regenerate the table compiled into the binary from calibration/devices.csv.
devices:
	{ printf '// Generated from calibration/devices.csv by `make devices`: do not edit; a test keeps them equal.\n\nextension DeviceTable {\n    public static let builtinCSV = """\n'; \
	  cat calibration/devices.csv; printf '"""\n}\n'; } > Sources/FovealGeometry/BuiltinDevices.swift

## test-camera: the capture module against the kernel's vivid driver in a qemu VM (Tests/vivid/run.sh).
test-camera: release
	Tests/vivid/run.sh .build/release/foveal

## test-distributed: the PyTorch trainer (training/) under torchrun, 2 gloo processes on the CPU: the same
## weights as 1 process, validation falling, and the model loading in foveal eval (about 7 minutes).
test-distributed: release venv
	training/test_distributed.sh .build/release/foveal $(PYTHON_VENV)/bin/python

## bench-training: Foveal vs PyTorch training throughput, compact model, batch 64, 2 threads.
bench-training: release venv
	Benchmarks/training-vs-pytorch.sh 5

## fuzz: every libFuzzer harness (Sources/FovealFuzz) for SECONDS each, from Tests/Fuzz/corpus; not CI.
SECONDS ?= 60
fuzz: deps
	FOVEAL_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product FovealFuzz \
	  -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
	Benchmarks/fuzz.sh $(SECONDS)

## kill-test: 100 SIGKILLs during calibrate and during training's checkpoint writes; not CI.
kill-test: release
	Benchmarks/kill-test.sh 100

## soak: an hour of `foveal serve` with clients coming and going; RSS and descriptors per minute; not CI.
soak: release
	python3 Benchmarks/serve_soak.py --minutes 60
