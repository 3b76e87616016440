# Set-up and the two README commands. `make demo` and `make test` do everything on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := espeak-ng pulseaudio libportaudio2 libasound2-plugins libsndfile1 sox

.PHONY: setup system venv demo test bench clean

setup: system venv

system:
	@if ! (command -v espeak-ng >/dev/null && command -v pulseaudio >/dev/null && ldconfig -p | grep -q libportaudio); then \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(APT_PACKAGES); \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[train,export,litert,audio,dev]"
	touch $@

demo: setup
	$(BIN)/wakeword demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	@dpkg -s asterisk-core-sounds-en-wav klettres-data hedgewars-data >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends asterisk-core-sounds-en-wav klettres-data hedgewars-data
	$(BIN)/pip install -q -e ".[peers]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV)
