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

.PHONY: setup test test-avx2 test-gpu-stack test-slurm window-pack gpu-window reproduce record report lab bench clean

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

# The engine on a plain AVX2 CPU: torch's kernels and oneDNN held to AVX2 (no AVX-512, no bf16 or AMX units, so
# `auto` is fp32 and no depthwise conv is kept out of autocast) and no preloaded allocator (glibc's, as set by
# fer_lib.allocator). CI runs it on whatever CPU it gets.
AVX2_TESTS := tests/test_engine_train.py tests/test_engine_evaluate.py tests/test_engine_speed.py tests/test_precision.py
test-avx2: setup
	env -u LD_PRELOAD ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 $(PY) -m pytest -q -p no:cacheprovider $(AVX2_TESTS)

# Second test leg: the library versions of the project's GPU machine (its own torch 2.11 / torchvision 0.26,
# timm, numpy, pandas, scikit-learn, matplotlib, seaborn, scikit-image, opencv, tqdm, pyyaml; no papermill,
# grad-cam, facenet-pytorch or Jupyter; filelock and submitit (+ cloudpickle) are the pure-Python wheels brought along). The engine must
# train, resume and evaluate on that stack with no install step beyond copying the tree.
GPU_STACK       ?= .venv-gpu-stack
GPU_STACK_PKGS  := torch==2.11.0 torchvision==0.26.0 timm numpy pandas scikit-learn matplotlib seaborn \
                   scikit-image opencv-python-headless tqdm pyyaml pillow filelock submitit pytest
GPU_STACK_TESTS := tests/test_engine_train.py tests/test_engine_evaluate.py tests/test_engine_augment.py \
                   tests/test_precision.py tests/test_data_splits_balance.py tests/test_data_synthetic.py
test-gpu-stack:
	@test -x $(GPU_STACK)/bin/python || $(PYTHON) -m venv $(GPU_STACK)
	$(GPU_STACK)/bin/python -m pip install --quiet $(GPU_STACK_PKGS)
	$(GPU_STACK)/bin/python -m pip install --quiet --no-deps -e .
	$(GPU_STACK)/bin/python -c "import importlib.util as u, sys; extra = [m for m in ('papermill', 'pytorch_grad_cam', 'facenet_pytorch', 'IPython', 'jupyter_book') if u.find_spec(m)]; sys.exit(f'not the GPU machine stack, has {extra}' if extra else 0)"
	$(GPU_STACK)/bin/python -c "import torch, torchvision; print('gpu-machine stack: torch', torch.__version__, 'torchvision', torchvision.__version__)"
	$(GPU_STACK)/bin/python -m pytest -q -p no:cacheprovider $(GPU_STACK_TESTS)

# A real single-node Slurm cluster (slurm-wlm + munge, installed when missing; root) runs a small campaign
# through submitit's Slurm executor; the daemons are stopped afterwards.
test-slurm: setup
	@conf=$$(tests/slurm/cluster.sh up) || exit 1; eval "$$conf"; \
	  FER_SLURM_TEST=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_slurm_real.py; rc=$$?; \
	  tests/slurm/cluster.sh down; exit $$rc

# A GPU window (README, "Running the campaign"). Here: pack what travels beside the tree (RAF-DB, ~30 MB,
# checked on arrival; the pure-Python wheels) into WINDOW, carried with the tree. There, on the GPU
# machine's own python3 with nothing installed: the data unpacked and checked, preflight + calibration,
# the campaign inside BUDGET minutes, the cuda benchmark, and what must come back packed into OUT.
WINDOW      ?= scratch/window
BUDGET      ?= 6
ONLY        ?= P2
OUT         ?= $(WINDOW)/out
WINDOW_PROFILE ?= full
WINDOW_PY   ?= python3
WINDOW_DATA ?= rafdb_basic
WINDOW_WHEELS := submitit==1.5.4 cloudpickle==3.1.3 filelock==4.3.1
WINDOW_ENV  = PYTHONPATH=$(WINDOW)/site:$(CURDIR) FER_DATA_DIR=$(WINDOW)/datasets \
              FER_SOURCE_COMMIT="$$(cat $(WINDOW)/commit 2>/dev/null)"
window-pack: setup
	rm -rf $(WINDOW) && $(PY) -m fer_lib campaign pack-data $(WINDOW_DATA) --out $(WINDOW)/data $(if $(DATA_DIR),--data-dir $(DATA_DIR))
	$(PY) -m pip download --quiet --no-deps -d $(WINDOW)/wheels $(WINDOW_WHEELS)
	echo "$$(git rev-parse HEAD)$$(test -z "$$(git status --porcelain)" || echo ' dirty')" > $(WINDOW)/commit
	du -sh $(WINDOW)

gpu-window:
	mkdir -p $(WINDOW)/site $(OUT) && for w in $(WINDOW)/wheels/*.whl; do $(WINDOW_PY) -m zipfile -e $$w $(WINDOW)/site; done
	$(WINDOW_ENV) $(WINDOW_PY) -m fer_lib campaign unpack-data $(WINDOW)/data/*.xfer.json --data-dir $(WINDOW)/datasets
	-$(WINDOW_ENV) $(WINDOW_PY) -m fer_lib campaign preflight --only $(ONLY) --profile $(WINDOW_PROFILE) --out $(OUT)/calibration.json
	-$(WINDOW_ENV) $(WINDOW_PY) -m fer_lib campaign run --executor local --only $(ONLY) --profile $(WINDOW_PROFILE) --budget-minutes $(BUDGET) \
	  $$(test -s $(OUT)/calibration.json && echo --calibration $(OUT)/calibration.json) --work-dir $(WINDOW)/work
	-$(WINDOW_ENV) $(WINDOW_PY) -m fer_lib bench --device cuda --quick
	-cp $$(ls -t $(WINDOW)/work/campaign-*.json | head -1) $(OUT)/
	$(WINDOW_ENV) $(WINDOW_PY) -m fer_lib campaign pack-results $$(ls -t $(WINDOW)/work/campaign-*.json 2>/dev/null | head -1 | sed 's/^/--log /') \
	  $$(find results/bench -type f -newer $(OUT) 2>/dev/null) --max-files 6 --out $(OUT)

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
