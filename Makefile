# SIPADU: two commands.  `make run` starts everything;  `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-sipadu
# JavaScript the browser tests inject into pages (axe-core, from the npm registry; pinned
# in tests/browser/package-lock.json). Never served by the portal.
NODE_DIR := tests/browser
NODE_STAMP := $(NODE_DIR)/node_modules/.installed-sipadu
CATALOGS := $(wildcard sipadu/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
# make run: a development instance in ./instance with demo accounts (never production).
# Another instance folder: make run SIPADU_INSTANCE_PATH=/path (or exported); other ports:
# SIPADU_REPORTER_BIND / SIPADU_STAFF_BIND, passed through from the environment.
SIPADU_INSTANCE_PATH ?= $(CURDIR)/instance
# An intake slip prints the reporter portal's address (an operator's form refuses reports
# without one): the local reporter portal's unless given (SIPADU_REPORTER_BIND's default).
SIPADU_WEB_ADDRESS ?= http://$(or $(SIPADU_REPORTER_BIND),127.0.0.1:5000)
RUN_ENV := SIPADU_ENV=development SIPADU_INSTANCE_PATH="$(SIPADU_INSTANCE_PATH)" SIPADU_WEB_ADDRESS="$(SIPADU_WEB_ADDRESS)"

.PHONY: run test lint bench vectors translations clean programs totp screenshots

run: $(STAMP) $(COMPILED)
	@if [ ! -f "$(SIPADU_INSTANCE_PATH)/sipadu.db" ]; then $(RUN_ENV) $(BIN)/sipadu init --demo; \
	else echo "Existing instance; demo accounts:"; \
	cat "$(SIPADU_INSTANCE_PATH)/demo-credentials.txt" 2>/dev/null; \
	$(RUN_ENV) $(BIN)/sipadu db upgrade; fi
	$(RUN_ENV) $(BIN)/sipadu serve

# make totp USER=admin: a demo account's current TOTP code, from instance/demo-credentials.txt
# (`make run` must have created the instance). USER must be given: the shell's own $USER
# is the login name, never a demo account.
totp: $(STAMP)
	@if [ "$(origin USER)" != "command line" ]; then \
		echo "usage: make totp USER=<demo account>, e.g. make totp USER=admin"; exit 2; fi
	@$(RUN_ENV) $(BIN)/sipadu demo totp '$(USER)'

# make screenshots: docs/screenshots/ from the reporter journey in Debian's Chromium
# (JavaScript off, 1280 px and 390 px, Bahasa Indonesia and English), and the staff
# portal's daily pages (JavaScript on, Bahasa Indonesia, 1280 px and 390 px).
screenshots: $(STAMP) $(COMPILED) programs
	$(BIN)/python tools/screenshots.py docs/screenshots

# The suite runs on two pytest-xdist workers, a test file each at a time (the fixtures of
# a module are made once), the longest files first (LONGEST_FIRST in tests/conftest.py);
# each worker has its own databases and Redis database (tests/helpers.py). One file
# alone, on one process: .venv/bin/python -m pytest FILE.
PYTEST_WORKERS ?= -n 2 --dist loadfile --no-loadscope-reorder
test: $(STAMP) $(COMPILED) programs $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/bandit -q -r sipadu --severity-level high
	$(BIN)/python -m pytest $(PYTEST_WORKERS)

# Every program the tests and benchmarks run, as program:Debian-package. Browser tests
# drive Debian's Chromium (Playwright's own browser download is not used); exports are
# opened with the real age tool; the restore drill runs pg_dump and pg_restore; the
# Argon2 vectors are checked against the reference argon2 tool; the documented torrc is
# checked by tor itself (--verify-config only: the test starts no Tor); make's own dry
# runs check `make run`'s variables; npm installs axe-core, which the browser tests
# inject into reporter and staff pages; sha256sum checks the documented recipe for an
# export recipient's fingerprint; gpg opens a digest encrypted to a key it made (a staff
# member's own tool, not SIPADU's: SIPADU encrypts with Sequoia in process); each
# pytest-xdist worker runs uname as it starts (platform.platform()); unzip tests the
# archives SIPADU streams (unzip -t), as the agencies receiving them would open them.
PROGRAMS := make:make chromium:chromium npm:npm age:age age-keygen:age argon2:argon2 pg_dump:postgresql-client \
	pg_restore:postgresql-client tor:tor sha256sum:coreutils gpg:gnupg gpgconf:gpgconf uname:coreutils \
	unzip:unzip unshare:util-linux bwrap:bubblewrap
# Installed without recommends (mat2 recommends a GTK application and bubblewrap, LibreOffice
# a desktop; SIPADU uses none of them). Evidence cleaning (sipadu/evidence/docclean.py) runs
# Debian's mat2 and ffmpeg (mat2 runs exiftool and ffprobe); safe copies run LibreOffice
# (docs/casework.md, "Safe copies"); the tests make their documents with LibreOffice and read
# results with exiftool, ffprobe, pdfinfo and pdftoppm (what a viewer shows); the PDF damage
# check compares pdftotext, pdfimages and pdfdetach before and after. A program is checked by its name, or by a file
# it installs: calc and impress share soffice with writer.
PROGRAMS_NO_RECOMMENDS := mat2:mat2 ffmpeg:ffmpeg ffprobe:ffmpeg exiftool:libimage-exiftool-perl \
	soffice:libreoffice-writer-nogui \
	/usr/lib/libreoffice/program/libsclo.so:libreoffice-calc-nogui \
	/usr/lib/libreoffice/program/libsdlo.so:libreoffice-impress-nogui \
	pdfinfo:poppler-utils pdftotext:poppler-utils pdfimages:poppler-utils pdfdetach:poppler-utils \
	pdftoppm:poppler-utils
programs:
	@missing=$$(for pair in $(PROGRAMS); do command -v $${pair%%:*} >/dev/null 2>&1 \
		|| echo $${pair#*:}; done | sort -u); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
		apt-get update -qq && apt-get install -y -qq $$missing; fi
	@missing=$$(for pair in $(PROGRAMS_NO_RECOMMENDS); do command -v $${pair%%:*} >/dev/null 2>&1 \
		|| [ -e $${pair%%:*} ] || echo $${pair#*:}; done | sort -u); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; fi

# Re-install when pyproject.toml changes; creates the venv if it is missing.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Re-install when the lock file changes (npm ci installs exactly what it pins).
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json | programs
	cd $(NODE_DIR) && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

# After changing user-facing text: extract, merge into every catalogue, translate, compile.
translations: $(STAMP)
	$(BIN)/pybabel extract --omit-header -F babel.cfg -k _l -k lazy_gettext -o sipadu/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -w 100 -i sipadu/translations/messages.pot -d sipadu/translations
	$(MAKE) $(COMPILED)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/bandit -q -r sipadu --severity-level medium

bench: $(STAMP) programs
	$(BIN)/python benchmarks/crypto_stream.py
	$(BIN)/python benchmarks/crypto_ops.py

vectors: $(STAMP)
	$(BIN)/python tests/vectors/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis $(COMPILED) $(NODE_DIR)/node_modules
