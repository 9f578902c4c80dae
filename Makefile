# `make run` serves the portal and runs the task worker (sandbox, SQLite);
# `make test` runs every test. Both create .venv and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

# Development defaults for `make run`; the environment (or .env) wins.
DEBUG ?= 1
SITE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test install install-dev lock browser messages wrk bench-h5 bench-video bench-concurrent bench-faults bench-malformed bench-chaos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Pins every dependency, with the hashes of its files, from the ranges in
# requirements*.in: pip then installs exactly these files or fails. Run it
# after changing a range, or to take newer releases; commit both .txt files.
lock: | $(BIN)/python
	$(BIN)/pip install --quiet "pip-tools>=7.5,<8"
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	  -o requirements.txt requirements.in
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	  -o requirements-dev.txt requirements-dev.in

run: export DEBUG := $(DEBUG)
run: export SITE_URL := $(SITE_URL)
run: install
	$(BIN)/python manage.py release
	@echo "Portal: $(SITE_URL)/   admin: $(SITE_URL)/admin/   (Ctrl-C stops the server and the worker)"
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/python manage.py db_worker --interval 0.5 & \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Debian's chromium and chromedriver drive the browser tests; install them
# when they are missing and we may (root), never a downloaded browser.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium and chromium-driver for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "chromium/chromedriver missing and not root: browser tests will be skipped"; \
	  fi; \
	fi

test: install-dev browser
	$(BIN)/python -m pytest

# Regenerate the Chinese translations after changing user-facing text.
messages: install
	DEBUG=1 $(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=sandbox
	# msgmerge's guesses ("fuzzy") would ship a wrong translation: empty them.
	msgattrib --clear-fuzzy --empty -o locale/zh_Hans/LC_MESSAGES/django.po locale/zh_Hans/LC_MESSAGES/django.po
	DEBUG=1 $(BIN)/python manage.py compilemessages --ignore=.venv

# The benchmarks (README "Measured"): each starts its own production-like
# portal on loopback, against the local PostgreSQL and Redis.
wrk:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || { echo "wrk is missing: apt-get install wrk"; exit 1; }

bench-h5: install-dev wrk
	$(BIN)/python bench/h5_load.py
bench-video: install-dev
	$(BIN)/python bench/video_pipeline.py
bench-concurrent: install-dev
	$(BIN)/python bench/concurrent_videos.py --clip mp4
	$(BIN)/python bench/concurrent_videos.py --clip webm
bench-faults: install-dev
	$(BIN)/python bench/vendor_faults.py
bench-malformed: install-dev
	$(BIN)/python bench/malformed_uploads.py
# Kills and stops its own private PostgreSQL, Redis, tmpfs and S3: run as root.
bench-chaos: install-dev
	$(BIN)/python bench/chaos.py
