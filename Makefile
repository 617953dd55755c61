# mailspy: `make test` and `make run` work on a fresh Debian machine as root.
# Each installs only what is missing: apt packages, then a venv in .venv.

# Debian's interpreter: readable by every user, so the daemon still finds
# the standard library after dropping root with -u (a pyenv under /root is not).
PYTHON  ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV    := .venv
PY      := $(VENV)/bin/python
MAILSPY := $(VENV)/bin/mailspy
# libpython3.11-testsuite carries CPython's email test corpus, fed to the message parser;
# chromium (headless) opens the HTML reports in tests, chromium-driver drives it;
# a private rsyslog receives log-syslog's records, a private Prometheus scrapes
# --metrics-listen (its promtool checks contrib/prometheus/'s alerting rules);
# sasl2-bin's saslpasswd2 makes the SMTP AUTH users of a private Postfix's own sasldb
# (libsasl2-modules holds the PLAIN and LOGIN mechanisms it offers).
APT_PACKAGES := libmilter-dev postfix procmail gcc python3-dev python3-venv \
                libpython3.11-testsuite chromium chromium-driver rsyslog prometheus \
                sasl2-bin libsasl2-modules
PYTEST_ARGS ?=

# What `make deb` and `make man` need (docs/packaging.md): debhelper and
# dh-python build the package, lintian checks it, pandoc writes
# mailspy.rules(5), logrotate and systemd-analyze (in systemd) check the
# installed snippet and unit, adduser makes the package's user, man (man-db,
# not in a minimal Debian) renders the manual pages the package test reads.
DEB_APT_PACKAGES := build-essential debhelper dh-python pybuild-plugin-pyproject \
                    python3-all python3-hatchling lintian pandoc logrotate adduser systemd \
                    man-db
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)
DEB     := dist/mailspy_$(VERSION)_all.deb
MAN     := build/man/mailspy.8 build/man/mailspy.rules.5

.PHONY: test test-fast run deps apt lint wheel clean bench fuzz sendmail deb man deb-tools

# The package test (tests/package/) installs $(DEB) for real: build it first.
test: deps sendmail deb
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

# The end-to-end tests also run behind a private sendmail. Debian's sendmail packages
# conflict with postfix, so they are never installed: apt-get download and dpkg -x put
# them into a cache directory, once per machine (apt-get update first when the package
# lists are empty, as on a fresh machine).
sendmail: deps
	$(PY) -m tests.e2e.sendmail

# What a contributor runs after each change: no MTA, nothing marked slow, on every core.
test-fast: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -n auto -m "not postfix and not sendmail and not slow" $(PYTEST_ARGS)

# The daemon in the foreground with the repository's rules; every log and
# Maildir lands under ./var/ (--root), the milter listens on loopback.
PORT ?= 8890
run: deps
	@mkdir -p var
	$(MAILSPY) check-rules -d rules.d --root $(CURDIR)/var --test rules.d/fixtures
	@echo
	@echo "mailspy listens on 127.0.0.1:$(PORT); hook a local Postfix to it with these"
	@echo "main.cf lines (docs/install.md says why), then run 'postfix reload':"
	@echo
	@echo "    smtpd_milters = inet:127.0.0.1:$(PORT)"
	@echo "    non_smtpd_milters = inet:127.0.0.1:$(PORT)"
	@echo "    milter_default_action = accept"
	@echo
	@echo "Logs and Maildirs appear under $(CURDIR)/var/. Stop with Ctrl-C."
	@echo "A report of the log, from another terminal: $(MAILSPY) report -o var/report var/log/mailspy (then open var/report/index.html)"
	@echo
	$(MAILSPY) run -p inet:$(PORT)@127.0.0.1 -d rules.d --root $(CURDIR)/var \
	    -f /log/mailspy -h /log/mailspy-headers --spool-dir $(CURDIR)/var/spool

# The benchmark: prints a table of ratios and writes docs/performance.md. py-spy is
# what bench/profile_daemon.py samples the daemon with (its notes, bench/notes.md).
bench: deps sendmail
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) bench/run.py --write docs/performance.md

# Fuzz the message parser, MIME walk, rules and log formats (atheris/libFuzzer)
# for FUZZ_TIME seconds. What it learns stays in var/fuzz/corpus for the next
# run; a crash or timeout is saved as var/fuzz/crash-* or var/fuzz/timeout-*.
FUZZ_TIME ?= 3600
fuzz: deps
	@mkdir -p var/fuzz/corpus
	$(PY) fuzz/fuzz_message.py -max_total_time=$(FUZZ_TIME) -timeout=10 -max_len=65536 \
	    -print_final_stats=1 -artifact_prefix=var/fuzz/ var/fuzz/corpus fuzz/seeds

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

deps: apt $(VENV)/.installed

# The Debian package, built from a copy of the files it ships (so nothing is
# written beside the checkout), with the manual pages `make man` built.
deb: $(DEB)

# Debian's own python3 builds the package, whatever python3 comes first on PATH.
DEB_PATH := /usr/sbin:/usr/bin:/sbin:/bin
DEB_SOURCES := pyproject.toml README.md LICENSE $(shell find mailspy grammar contrib docs debian \
                 -type f ! -name '*.pyc')
$(DEB): $(MAN) $(DEB_SOURCES) | deb-tools
	@test "$$(dpkg-parsechangelog -l debian/changelog -S Version)" = "$(VERSION)" || \
	    { echo "debian/changelog's version is not pyproject.toml's $(VERSION):" \
	      "add a changelog entry (dch -v $(VERSION))"; exit 1; }
	rm -rf build/deb && mkdir -p build/deb/mailspy-$(VERSION)/debian/man dist
	tar -cf - --exclude=__pycache__ pyproject.toml README.md LICENSE mailspy grammar contrib \
	    docs debian | tar -xf - -C build/deb/mailspy-$(VERSION)
	cp $(MAN) build/deb/mailspy-$(VERSION)/debian/man/
	cd build/deb/mailspy-$(VERSION) && env -u VIRTUAL_ENV PATH=$(DEB_PATH) dpkg-buildpackage -b -us -uc --no-sign >../build.log 2>&1 \
	    || { tail -40 ../build.log; exit 1; }
	mv build/deb/mailspy_$(VERSION)_all.deb $@
	@echo "built $@"

# mailspy(8) from the argument parser (argparse-manpage), with the sections
# in docs/man/mailspy.8.include; mailspy.rules(5) from docs/rules.md (pandoc).
# Dated by debian/changelog, so that a rebuild gives the same pages.
MAN_DATE = $(shell dpkg-parsechangelog -l debian/changelog -S Timestamp 2>/dev/null)
man: $(MAN)

build/man/mailspy.8: $(shell find mailspy -name '*.py') docs/man/mailspy.8.include \
                     debian/changelog | deps deb-tools
	@mkdir -p build/man
	SOURCE_DATE_EPOCH=$(MAN_DATE) COLUMNS=80 $(VENV)/bin/argparse-manpage \
	    --module mailspy.cli --function build_parser --prog mailspy \
	    --project-name mailspy --version $(VERSION) --manual-section 8 \
	    --manual-title "System Manager's Manual" \
	    --description "record mail by rules, beside Postfix or sendmail" \
	    --include docs/man/mailspy.8.include --output $@

build/man/mailspy.rules.5: docs/rules.md docs/man/rules-man.lua debian/changelog | deb-tools
	@mkdir -p build/man
	pandoc --standalone --from gfm --to man --lua-filter docs/man/rules-man.lua \
	    -V adjusting=l -V hyphenate=false -M section=5 -M header="File Formats Manual" -M footer="mailspy $(VERSION)" \
	    -M date="$$(date -u -d @$(MAN_DATE) +%Y-%m-%d)" docs/rules.md --output $@

deb-tools:
	@$(MAKE) --no-print-directory apt APT_PACKAGES="$(DEB_APT_PACKAGES)"

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
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

wheel: deps
	$(PY) -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) var dist build .pytest_cache .ruff_cache
