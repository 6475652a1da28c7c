# The two commands of the README's quick start, usable identically by people and CI:
#   make serve   start the sandbox on its embedded defaults (installs only what serving needs)
#   make test    run the linters, the type checker and the whole test suite
# Both create .venv and install the project into it on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SERVE_STAMP := $(VENV)/.serve-stamp
TEST_STAMP := $(VENV)/.test-stamp
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: serve test tools clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $(SERVE_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $(SERVE_STAMP) $(TEST_STAMP)

serve: $(SERVE_STAMP)
	$(BIN)/sabong-sandbox serve $(ARGS)

# The Debian tools some tests drive, installed when missing (as root, from Debian's packages):
# chromium (the inspector in a browser), podman, mmdebstrap and runc (the container image),
# php-cli, golang-go, a JDK and Node (the signing snippets and the partners' clients).
# The tests that need a tool that could not be installed are skipped, saying which.
TOOLS := chromium:chromium podman:podman mmdebstrap:mmdebstrap runc:runc php:php-cli go:golang-go \
	javac:openjdk-17-jdk-headless node:nodejs
tools:
	@missing=""; for t in $(TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages for the tests:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null 2>&1 \
	      || echo "could not install$$missing: the tests that need them will be skipped"; \
	  else echo "not installed:$$missing: the tests that need them will be skipped"; fi; fi

test: $(TEST_STAMP) tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check sandbox tests bench examples docs
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .sandbox .pytest_cache
