# fer-repro: every target a new user needs. `make reproduce` and `make test` set up the
# environment themselves; `setup` is idempotent and returns at once when nothing changed.
PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
# smoke: embedded synthetic data or small subsets, minutes on a CPU.  full: the papers' budgets (GPU).
PROFILE     ?= smoke
# Where the datasets live (see README, "Data"). Empty: FER_DATA_DIR from the environment, then ./data.
DATA_DIR    ?=
NOTEBOOKS   ?=
PYTEST_ARGS ?=

.PHONY: setup test reproduce record report lab bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@# MTCNN for `fer_lib live`: facenet-pytorch's metadata pins torch<2.3, but its MTCNN is plain
	@# torch and runs on current releases, so it is installed without its (outdated) pins.
	$(PY) -m pip install --quiet --no-deps facenet-pytorch==2.6.0
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

reproduce: setup
	$(PY) -m fer_lib reproduce --profile $(PROFILE) $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(NOTEBOOKS),--only $(NOTEBOOKS))

# Rebuild the committed record (results/) from the runs already in it; trains nothing.
record: setup
	$(PY) -m fer_lib reproduce --record $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(NOTEBOOKS),--only $(NOTEBOOKS))

report: setup
	$(PY) -m fer_lib report

bench: setup
	$(PY) -m fer_lib bench

# Jupyter refuses to start as root unless told: containers and CI machines often run as root.
lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf $(VENV) .pytest_cache .cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
