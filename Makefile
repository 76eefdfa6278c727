# aelab — the two commands of the README are `make course` and `make test`.
# Everything installs into a local virtual environment, .venv, from the pins in pyproject.toml.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.aelab-installed

.PHONY: course test install doctor demo build check-build lab bench grade clean help class-env

help:
	@echo "make course  install into $(VENV), check it, run the demo, build release/ and solutions/"
	@echo "make test    install into $(VENV) and run the tests"
	@echo "make lab     start JupyterLab on the course (127.0.0.1)"
	@echo "make bench   leave-one-digit-out AUROC benchmark"

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: the course needs Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[course,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (aelab)" >/dev/null
	touch $(STAMP)

# The course's main job: a working installation, a small end-to-end run, the course built.
course: install
	$(BIN)/aelab doctor
	$(BIN)/aelab demo
	$(BIN)/aelab build

doctor: install
	$(BIN)/aelab doctor

demo: install
	$(BIN)/aelab demo

build: install
	$(BIN)/aelab build

check-build: install
	$(BIN)/aelab build --check

lab: install
	$(BIN)/aelab lab

bench: install
	$(BIN)/python bench/auroc.py

# A class on one machine (root): an environment every user can run, see deploy/README.md.
class-env: install
	$(BIN)/aelab class env

# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
# Two workers, one test file each at a time (a file's heavy fixtures are built once).
PYTEST_ARGS ?= -n 2 --dist loadfile

test: install
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) out .pytest_cache
