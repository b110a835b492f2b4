# One entry point: `make test` sets everything up in .venv and runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/council-assistant
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1

.PHONY: install test test-quick index search clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: any other torch requirement pulls GBs of CUDA packages
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: install
	$(PY) -m pytest

test-quick: install
	$(PY) -m pytest -m "not slow"

index: install
	$(CLI) ingest corpus/

search: index
	$(CLI) search "$(Q)"

clean:
	rm -rf $(VENV) index
