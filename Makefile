# aelab — the two commands of the README are `make course` and `make test`.
# Everything installs into a local virtual environment, .venv, from the pins in pyproject.toml.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.aelab-installed

.PHONY: course test test-fast lint install system-deps doctor demo build check-build lab lab-instructor bench grade clean help class-env

help:
	@echo "make course  install into $(VENV), check it, run the demo, build release/ and solutions/"
	@echo "make test    install into $(VENV) and the Debian packages the tests need (system-deps), run the tests"
	@echo "make test-fast  lint and the quick tests (not slow, browser, root or notebook), a few minutes"
	@echo "make lab     start JupyterLab on your workspace, ~/aelab-work (\$$AELAB_WORKSPACE; 127.0.0.1)"
	@echo "make lab-instructor  start JupyterLab on the course directory, with nbgrader's formgrader"
	@echo "make bench   leave-one-digit-out AUROC benchmark"

install: $(STAMP)

# The interpreter is checked first (aelab/course/interpreter.py, as `aelab doctor` does): Python 3.11,
# 3.11.5 or newer; Debian 12's python3.11 (3.11.2) is refused, with the one to use instead.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: the course needs Python 3.11 (3.11.5 or newer): make install PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) aelab/course/interpreter.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python aelab/course/interpreter.py --rebuild $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[course,test,cluster]"
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

# Students: JupyterLab on their workspace (made from release/, never overwritten); instructors: the course.
lab: install
	$(BIN)/aelab lab

lab-instructor: install
	$(BIN)/aelab lab --instructor

bench: install
	$(BIN)/python bench/auroc.py

# A class on one machine (root): an environment every user can run, see deploy/README.md.
class-env: install
	$(BIN)/aelab class env

# Debian packages the tests need; `make test` runs this first (before installing into $(VENV)). As root with apt-get they are installed,
# otherwise make stops with the command to run. Opting out skips the tests that need them (and the check):
#   chromium  tests/test_browser.py, Debian's Chromium driven by Playwright  AELAB_SKIP_BROWSER=1
#             (AELAB_CHROMIUM=/path names another Chromium)
#   bubblewrap  the grading sandbox (aelab/course/sandbox.py): grading tests and every `aelab grade`
#   npm       tests/test_classroom.py, the hub's configurable-http-proxy;    AELAB_SKIP_CLASS=1
#             those tests create local users, so they also need root
CHROMIUM ?= $(or $(AELAB_CHROMIUM),/usr/bin/chromium)
APT_GET  ?= apt-get

system-deps:
	@skip() { case "$$1" in ""|0|false|no) return 1;; *) return 0;; esac; }; \
	pkgs=""; problems=""; sudo=$$([ "$$(id -u)" = 0 ] || echo "sudo "); \
	if ! skip "$$AELAB_SKIP_BROWSER" && [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$(CHROMIUM)" = /usr/bin/chromium ]; then pkgs="chromium"; \
	  else problems="no Chromium at $(CHROMIUM) (AELAB_CHROMIUM): point it at a Chromium binary"; fi; \
	fi; \
	if ! skip "$$AELAB_SKIP_CLASS"; then \
	  command -v npm >/dev/null || pkgs="$$pkgs npm"; \
	  [ "$$(id -u)" = 0 ] || problems="$$problems$${problems:+; }tests/test_classroom.py creates local users: run \`sudo make test\`"; \
	fi; \
	command -v bwrap >/dev/null || pkgs="$$pkgs bubblewrap"; \
	pkgs=$${pkgs# }; \
	if [ -n "$$pkgs" ] && [ "$$(id -u)" = 0 ] && command -v $(APT_GET) >/dev/null; then \
	  echo "make system-deps: installing Debian packages the tests need: $$pkgs"; \
	  DEBIAN_FRONTEND=noninteractive $(APT_GET) update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq $$pkgs >/dev/null || \
	    { echo "make system-deps: could not install $$pkgs (see above)"; exit 1; }; \
	  for p in $$pkgs; do case $$p in \
	    chromium) [ -x "$(CHROMIUM)" ] || problems="$$problems$${problems:+; }$(APT_GET) installed chromium, yet $(CHROMIUM) is missing";; \
	    npm) command -v npm >/dev/null || problems="$$problems$${problems:+; }$(APT_GET) installed npm, yet npm is not on PATH";; \
	  esac; done; \
	elif [ -n "$$pkgs" ]; then \
	  problems="$$problems$${problems:+; }missing Debian packages: run \`$${sudo}apt-get update && $${sudo}apt-get install -y $$pkgs\`"; \
	fi; \
	if [ -n "$$problems" ]; then \
	  echo "make system-deps: the tests cannot all run here: $$problems."; \
	  echo "(AELAB_SKIP_BROWSER=1 skips the browser tests, AELAB_SKIP_CLASS=1 the multi-user tests.)"; \
	  exit 1; \
	fi

# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
# Two workers, one test file each at a time (a file's heavy fixtures are built once).
PYTEST_ARGS ?= -n 2 --dist loadfile

# ruff's lint and format check (pyproject.toml), before the tests: a violation fails the run.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: system-deps install lint
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The quick loop, a few minutes: lint, then every test but those marked (tests/conftest.py) slow,
# browser, root or notebook.
FAST_MARKERS := not slow and not browser and not root and not notebook

test-fast: install lint
	@$(BIN)/python -m pytest $(PYTEST_ARGS) -m "$(FAST_MARKERS)"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) out .pytest_cache
