# The two commands of the README, `make test` and `make book`, set up .venv on a fresh machine
# (Python 3.11, nothing preinstalled) and skip the installs while requirements.txt is unchanged.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.dltheory-installed
CLAIMS := $(CURDIR)/_build/claims

.PHONY: test book mutants notebooks figures clean help ruff

help:
	@echo "make test       unit tests + every chapter executed under nbval"
	@echo "                (DLTHEORY_SCALE=full DLTHEORY_DEVICE=cuda: the papers' scale, on a GPU)"
	@echo "make book       build the HTML book into _build/html (executes every chapter)"
	@echo "make mutants    run each chapter under plausible wrong theories; each must fail a claim"
	@echo "make notebooks  regenerate the Colab notebooks in notebooks/ from book/*.md"
	@echo "make ruff       lint and format check (ruff, configured in pyproject.toml)"
	@echo "make figures    rebuild every figure into figures-out/ (PDF)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@touch $(STAMP)

# pytest exits 5 when it collected nothing: that is a broken suite, and it fails here like any error.
test: $(STAMP)
	@$(PY) -m pytest --nbval-lax --nbval-current-env --doctest-modules --durations=15 --ignore=tests/site book tests dltheory; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

book: $(STAMP)
	rm -rf $(CLAIMS) _build/html _build/.jupyter_cache
	DLTHEORY_CLAIMS_DIR=$(CLAIMS) $(VENV)/bin/jupyter-book build . --all --path-output . -W --keep-going
	$(PY) -c "import sys; sys.path.insert(0, 'book/_ext'); import booktools, pathlib; missing = [n for n in booktools.toc_files() if not pathlib.Path('_build/html', n + '.html').is_file()]; assert not missing, f'pages not built: {missing}'"
	@echo "book: open _build/html/index.html"

# Each chapter once clean, then once per mutant in tests/mutants/<chapter>.py; fails unless the clean
# runs pass and every mutant makes some claim of its chapter fail. Prints mutant -> killing claim.
mutants: $(STAMP)
	$(PY) tests/mutants/harness.py --jobs 2

# Lint and format check (pyproject.toml [tool.ruff]); `.venv/bin/ruff format .` and
# `.venv/bin/ruff check --fix .` repair most of what it finds.
ruff: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

notebooks: $(STAMP)
	$(PY) book/_ext/colab.py sync

figures: $(STAMP)
	$(PY) -m dltheory figures build all --out figures-out --format pdf

clean:
	rm -rf _build figures-out .pytest_cache
