# mailspy: `make test` and `make run` work on a fresh Debian machine as root.
# Each installs only what is missing: apt packages, then a venv in .venv.

VENV    := .venv
PY      := $(VENV)/bin/python
MAILSPY := $(VENV)/bin/mailspy
APT_PACKAGES := libmilter-dev postfix procmail swaks gcc python3-dev python3-venv
PYTEST_ARGS ?=

.PHONY: test run deps apt lint wheel clean

test: deps
	$(VENV)/bin/ruff check mailspy tests bench
	$(PY) -m pytest $(PYTEST_ARGS)

run: deps
	@mkdir -p var
	$(MAILSPY) check-rules -d rules.d
	$(MAILSPY) test-rules -d rules.d examples/invoice.eml

lint: deps
	$(VENV)/bin/ruff check mailspy tests bench

deps: apt $(VENV)/.installed

# Postfix asks debconf questions; "No configuration" installs it without
# writing /etc/postfix/main.cf or starting anything.
apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	    echo "postfix postfix/mailname string localhost" | debconf-set-selections; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

wheel: deps
	$(PY) -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) var dist build .pytest_cache .ruff_cache
