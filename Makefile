# Set-up and the two README commands. `make demo` and `make test` do everything on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := espeak-ng pulseaudio libportaudio2 libasound2-plugins libsndfile1 sox

.PHONY: setup system venv demo test bench wheel wheel-check clean

setup: system venv

system:
	@if ! (command -v espeak-ng >/dev/null && command -v pulseaudio >/dev/null && ldconfig -p | grep -q libportaudio); then \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(APT_PACKAGES); \
	fi

venv: $(VENV)/.installed

# Host install: every extra the tests need, at the exact versions of constraints.txt.
$(VENV)/.installed: pyproject.toml constraints.txt setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[train,export,onnx,litert,mic,audio,dev]"
	touch $@

demo: setup
	$(BIN)/wakeword demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	@dpkg -s asterisk-core-sounds-en-wav klettres-data hedgewars-data >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends asterisk-core-sounds-en-wav klettres-data hedgewars-data
	$(BIN)/pip install -q -e ".[peers]"
	$(BIN)/python benchmarks/run_all.py

# The device wheel (with the shipped models from models/) into dist/.
wheel: venv
	rm -rf build dist/wakeword-*.whl
	$(BIN)/pip wheel -q --no-deps --no-build-isolation -w dist .
	@ls -l dist/wakeword-*.whl

# Build the wheel, install it with [onnx,litert] into a fresh virtualenv, run it there.
wheel-check: venv
	PY=$(PY) bash scripts/wheel_check.sh

clean:
	rm -rf $(VENV) build dist
