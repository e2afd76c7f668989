# Two commands for a fresh machine: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_ARGS ?=

.PHONY: install run test lint format clean bench peers browser pretrained tutorial notebook mutation fashion-mnist

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps depend on pyproject.toml, so a changed dependency list reinstalls; otherwise reused.
# The fast CPU kernels (src/lenet5/kernels: the operators and the fused SDLM step) compile here
# once, ~15 s, into .venv/lenet5-cache.
# Without a compiler everything still works, on Paddle's own (slower) convolution.
KERNELS = $(BIN)/python -m lenet5.kernels || echo "lenet5: fast CPU kernels not built; training uses Paddle's conv2d"
# An editable install leaves lenet5's own modules uncompiled until a first import writes their
# bytecode, and nothing is written where PYTHONDONTWRITEBYTECODE is set (it is on our development machines):
# every command then compiles its modules again (14,000 lines in all), a good part of its start. Compiled
# here ahead (only files changed since), as a wheel's install does; stale files are recompiled.
BYTECODE = $(BIN)/python -m compileall -q src >/dev/null

$(VENV)/.stamp-run: pyproject.toml src/lenet5/kernels/conv_kernels.cc src/lenet5/kernels/sdlm_step.cc | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(KERNELS)
	$(BYTECODE)
	touch $@

$(VENV)/.stamp-dev: pyproject.toml src/lenet5/kernels/conv_kernels.cc src/lenet5/kernels/sdlm_step.cc | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(KERNELS)
	$(BYTECODE)
	touch $@ $(VENV)/.stamp-run

# rapidocr-onnxruntime (bench/peers.py) without its opencv-python requirement: see pyproject.toml.
$(VENV)/.stamp-bench: pyproject.toml src/lenet5/kernels/conv_kernels.cc src/lenet5/kernels/sdlm_step.cc | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m pip install --quiet --no-deps 'rapidocr-onnxruntime==1.4.4'
	$(KERNELS)
	$(BYTECODE)
	touch $@ $(VENV)/.stamp-dev $(VENV)/.stamp-run

bench: $(VENV)/.stamp-bench
	$(BIN)/python bench/run_all.py

# OCR systems side by side with lenet5 (bench/peers.py): PP-OCRv4 and Debian's Tesseract 5.
TESSERACT := /usr/bin/tesseract
$(TESSERACT):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null
peers: $(VENV)/.stamp-bench $(TESSERACT)
	$(BIN)/python bench/peers.py --count 200 --seed 0

install: $(VENV)/.stamp-run

run: $(VENV)/.stamp-run
	$(BIN)/lenet5 train $(RUN_ARGS)

# Regenerates the models shipped inside the package (src/lenet5/pretrained/NAME), each
# exported with both Paddle Inference and ONNX files and its model card; the runs stay in
# runs/. seed: the article's network, --recipe strong (about 5 min on 2 cores); reader: the
# same with a junk class and line passes, --recipe reader, trained with seeds 0 and 1 and
# shipped as one model averaging the two (about 25 min); lenet5: the 1998 network,
# --recipe paper --distort (about 35 min). `make pretrained MODELS=seed` rebuilds one.
MODELS ?= seed reader lenet5
STAMP := $(shell date +%Y%m%d-%H%M%S)
RECIPE_seed := --recipe strong
RECIPE_reader := --recipe reader
RECIPE_lenet5 := --model lenet5 --recipe paper --distort
SEEDS_reader := 0 1
pretrained: $(VENV)/.stamp-run
	for name in $(MODELS); do \
	  case $$name in seed) args="$(RECIPE_seed)"; seeds=0;; reader) args="$(RECIPE_reader)"; seeds="$(SEEDS_reader)";; \
	    lenet5) args="$(RECIPE_lenet5)"; seeds=0;; *) echo "unknown model $$name"; exit 2;; esac; \
	  runs=""; \
	  for seed in $$seeds; do \
	    run=runs/pretrained-$$name-s$$seed-$(STAMP); \
	    $(BIN)/lenet5 train $$args --seed $$seed --out $$run --no-progress || exit 1; \
	    runs="$$runs $$run"; \
	  done; \
	  $(BIN)/lenet5 export $$runs --format both --out src/lenet5/pretrained/$$name --force || exit 1; \
	done

# Fashion-MNIST (`lenet5 train --dataset fashion-mnist`) from Debian's dataset-fashion-mnist
# package, without root: `apt-get download` fetches the .deb (31 MB, verified by apt against
# the archive's signed index) and `dpkg-deb -x` unpacks it here; only the four .gz files are
# kept, in data/fashion-mnist/ (git-ignored). lenet5 itself never downloads them.
FASHION_DIR := data/fashion-mnist
fashion-mnist: $(FASHION_DIR)/t10k-labels-idx1-ubyte.gz
$(FASHION_DIR)/t10k-labels-idx1-ubyte.gz:
	rm -rf $(FASHION_DIR).tmp && mkdir -p $(FASHION_DIR).tmp/deb
	cd $(FASHION_DIR).tmp && apt-get download dataset-fashion-mnist
	dpkg-deb -x $(FASHION_DIR).tmp/dataset-fashion-mnist_*.deb $(FASHION_DIR).tmp/deb
	mkdir -p $(FASHION_DIR)
	for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz \
	  t10k-labels-idx1-ubyte.gz; do mv $(FASHION_DIR).tmp/deb/usr/share/datasets/fashion-mnist/$$f $(FASHION_DIR)/ || exit 1; done
	rm -rf $(FASHION_DIR).tmp

# The browser test drives Debian's Chromium (Playwright never downloads a browser here);
# the tutorial's figures need a Chinese font (WenQuanYi Micro Hei).
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
browser: $(CHROMIUM) $(CJK_FONT)
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
$(CJK_FONT):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null

test: $(VENV)/.stamp-dev $(CHROMIUM) $(CJK_FONT)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BYTECODE)
	LENET5_REQUIRE_BROWSER=1 LENET5_REQUIRE_KERNELS=1 $(BIN)/python -m pytest -q

# The tutorial notebook (docs/tutorial): regenerated from its percent-format source and
# executed in full (the article's recipe, about 3 minutes on 2 cores), outputs kept.
# Runs the tutorial headless and writes the executed copy to $(TUTORIAL_OUT)/ (build/ by
# default: the committed notebook stays as it is; TUTORIAL_OUT=docs/tutorial refreshes it on
# purpose). LENET5_QUICK=1 trains on a small part of the data (about 2 minutes on 2 cores).
TUTORIAL_OUT ?= build/tutorial
tutorial: $(VENV)/.stamp-dev $(CJK_FONT)
	mkdir -p $(TUTORIAL_OUT)
	$(BIN)/jupytext --to ipynb --output $(TUTORIAL_OUT)/lenet5_tutorial.ipynb docs/tutorial/lenet5_tutorial.py
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=1800 $(TUTORIAL_OUT)/lenet5_tutorial.ipynb
	@echo "executed notebook: $(TUTORIAL_OUT)/lenet5_tutorial.ipynb"

# The notebook cell by cell in the browser: JupyterLab into the project's venv (from PyPI).
notebook: $(VENV)/.stamp-dev
	$(BIN)/python -m pip install --quiet jupyterlab
	$(BIN)/jupyter lab docs/tutorial/lenet5_tutorial.ipynb

# Mutation testing (not in CI): mutmut 3 over the modules listed in pyproject.toml, with
# their fast tests, in one mutmut run (its stats and clean run happen once), then a score
# per module. MUTATE=lenet5.train.sdlm reruns one module; `.venv/bin/mutmut results` lists
# the survivors.
MUTATE ?= lenet5.data.idx lenet5.data.mnist lenet5.data.splits lenet5.data.batches lenet5.data.normalize \
  lenet5.atomic lenet5.train.losses lenet5.train.evaluation lenet5.train.selection lenet5.store.checkpoint \
  lenet5.train.sdlm lenet5.models.lenet1998 lenet5.vision.preprocess \
  lenet5.store.outputs lenet5.store.model_folder lenet5.serve.limits lenet5.serve.bodies lenet5.serve.services \
  lenet5.infer.predict lenet5.export.ensemble lenet5.export.folder lenet5.export.graph \
  lenet5.reader.graph lenet5.reader.read lenet5.reader.numbers lenet5.train.distributed \
  lenet5.reader.segment lenet5.reader.lines lenet5.reader.line_training lenet5.vision.page lenet5.train.loop
mutation: $(VENV)/.stamp-dev
	$(BIN)/python -m pip install --quiet "mutmut>=3.8,<4"
	$(BIN)/mutmut run --max-children 2 $(foreach module,$(MUTATE),"$(module).*")
	$(BIN)/python bench/mutation_report.py --survivors

format: $(VENV)/.stamp-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
