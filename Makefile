# chinese_ptm: set-up, the main job and the tests.
#   make demo   set up .venv (CPU torch first) and run the main job on the embedded corpus
#   make test   set up .venv and run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the CPU build of torch (on machines with a local wheel this installs no CUDA packages);
# override for a GPU machine, e.g. make TORCH_SPEC='torch==2.13.0' PIP_TORCH_ARGS='--index-url ...'
TORCH_SPEC ?= torch==2.13.0
PIP_TORCH_ARGS ?=
STAMP := $(VENV)/.chinese_ptm-installed

.PHONY: setup demo test bench clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)" $(PIP_TORCH_ARGS)
	$(BIN)/python -m pip install -q -e ".[dev]"
	@$(MAKE) -s browser
	@touch $(STAMP)

# headless Chromium for the browser checks of the attention pages (installed where apt-get and root allow;
# elsewhere those tests are skipped with the reason)
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }; }; } || \
	  echo "chromium not installed: the browser checks of the attention views will be skipped"

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/chinese-ptm demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/tokenizer.py
	$(BIN)/python bench/glyphs.py
	$(BIN)/python bench/model.py --sizes demo
	$(BIN)/python bench/families.py --layers 4 --steps 5

clean:
	rm -rf $(VENV) .pytest_cache runs
