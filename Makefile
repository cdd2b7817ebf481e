# Two quick-start commands, each creating its own virtual environment:
#   make demo   runs the main job end to end on the embedded synthetic default
#   make test   installs the package with its dev extra and runs the test suite
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# torch and torchvision are pinned to the releases this project is tested with.
TORCH := torch==2.14.1 torchvision==0.29.1
# MTCNN, the default face detector: its wheel carries the weights; its metadata pins torch<2.3
# and numpy<2, yet its MTCNN runs on the torch and numpy above, so it goes in without its deps.
FACENET := facenet-pytorch==2.6.0

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(FACENET)
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/hybridfer demo

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check hybridfer tests benchmarks tools

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
