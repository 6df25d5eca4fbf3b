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

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)" $(PIP_TORCH_ARGS)
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/chinese-ptm demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/tokenizer.py
	$(BIN)/python bench/glyphs.py
	$(BIN)/python bench/model.py

clean:
	rm -rf $(VENV) .pytest_cache runs
