# The two commands of the README's quick start, usable identically by people and CI:
#   make serve   start the sandbox on its embedded defaults
#   make test    run the whole test suite (and the linter)
# Both create .venv and install the project into it on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: serve test tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/sabong-sandbox serve $(ARGS)

# The Debian tools some tests drive, installed when missing (as root, from Debian's packages):
# chromium (the inspector in a browser), podman, mmdebstrap and runc (the container image).
# The tests that need a tool that could not be installed are skipped, saying which.
TOOLS := chromium:chromium podman:podman mmdebstrap:mmdebstrap runc:runc
tools:
	@missing=""; for t in $(TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages for the tests:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null 2>&1 \
	      || echo "could not install$$missing: the tests that need them will be skipped"; \
	  else echo "not installed:$$missing: the tests that need them will be skipped"; fi; fi

test: $(STAMP) tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check sandbox tests bench examples docs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .sandbox .pytest_cache
