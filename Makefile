# `make run` serves the portal and runs the task worker (sandbox, SQLite);
# `make test` runs every test. Both create .venv and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# `make run HOST=0.0.0.0` listens on the local network, so a phone can open
# it; CERT=… KEY=… serve it over HTTPS (a phone's camera needs it): see
# docs/operations.md "Trying it on a phone" and `make dev-cert`.
HOST ?= 127.0.0.1
CERT ?=
KEY ?=
# The authority that signed CERT (make dev-cert's dev-ca.pem beside it by default).
CA ?=
# The address a phone reaches this machine at (the first of `hostname -I`).
LAN_IP ?= $(shell hostname -I 2>/dev/null | cut -d' ' -f1)
PUBLIC_HOST := $(if $(filter 0.0.0.0,$(HOST)),$(LAN_IP),$(HOST))

# Development defaults for `make run`; the environment (or .env) wins.
DEBUG ?= 1
# Links, QR codes and the vendors' return addresses are built on SITE_URL:
# on the local network it names the LAN address, not 127.0.0.1.
SITE_URL ?= $(if $(CERT),https,http)://$(PUBLIC_HOST):$(PORT)
ALLOWED_HOSTS ?= localhost,127.0.0.1,$(PUBLIC_HOST)

.PHONY: run dev-cert test install install-dev lock browser messages wrk bench-h5 bench-video bench-concurrent bench-open-loop bench-faults bench-malformed bench-chaos bench-lighthouse

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

ifdef CERT
# HTTPS: gunicorn with the certificate (runserver has no TLS). The portal
# calls its own sandbox at SITE_URL, so it trusts the certificate too; no
# HSTS for a development address.
SERVE = $(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) --certfile $(CERT) --keyfile $(KEY) --workers 1 --reload
run: export REQUESTS_CA_BUNDLE := $(abspath $(or $(CA),$(dir $(CERT))dev-ca.pem))
run: export SECURE_HSTS_SECONDS := 0
else
SERVE = $(BIN)/python manage.py runserver $(HOST):$(PORT)
endif

run: export DEBUG := $(DEBUG)
run: export SITE_URL := $(SITE_URL)
run: export ALLOWED_HOSTS := $(ALLOWED_HOSTS)
run: install
	$(BIN)/python manage.py release
	@echo "Portal: $(SITE_URL)/   admin: $(SITE_URL)/admin/   (Ctrl-C stops the server and the worker)"
	@# Ctrl-C reaches the server and the worker; the worker is stopped in any
	@# case when the server ends. (A trap that kills its own process group
	@# re-entered itself on the TERM it sent, until the shell crashed:
	@# "Segmentation fault".)
	@$(BIN)/python manage.py db_worker --interval 0.5 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null; exit 0' INT TERM; \
	trap 'kill $$worker 2>/dev/null' EXIT; \
	$(SERVE)

# A development certificate authority of this machine's own (dev-ca.pem: install
# it on the phone to trust it, or accept the browser's warning once) and a
# certificate for the LAN address signed by it (30 days), for
# `make run HOST=0.0.0.0 CERT=dev-cert.pem KEY=dev-key.pem`.
dev-cert:
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout dev-ca-key.pem -out dev-ca.pem \
	  -subj "/CN=KYC portal development CA" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout dev-key.pem -out dev-cert.csr -subj "/CN=$(LAN_IP)" 2>/dev/null
	printf 'subjectAltName=IP:$(LAN_IP),IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > dev-cert.ext
	openssl x509 -req -in dev-cert.csr -CA dev-ca.pem -CAkey dev-ca-key.pem -CAcreateserial -days 30 \
	  -extfile dev-cert.ext -out dev-cert.pem 2>/dev/null
	rm -f dev-cert.csr dev-cert.ext dev-ca.srl
	@echo "dev-cert.pem and dev-key.pem for $(LAN_IP); the phone may trust dev-ca.pem"

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
	$(BIN)/python bench/concurrent_videos.py --clip desktop
	$(BIN)/python bench/concurrent_videos.py --clip webm
# Poisson arrivals at 4/s for 60 s, phone and desktop clips, vendor latency 3 s.
bench-open-loop: install-dev
	$(BIN)/python bench/open_loop_uploads.py
bench-faults: install-dev
	$(BIN)/python bench/vendor_faults.py
bench-malformed: install-dev
	$(BIN)/python bench/malformed_uploads.py
# Kills and stops its own private PostgreSQL, Redis, tmpfs and S3: run as root.
bench-chaos: install-dev
	$(BIN)/python bench/chaos.py
# Lighthouse 12 from the npm registry (npx), in Debian's Chromium.
bench-lighthouse: install-dev browser
	$(BIN)/python bench/lighthouse.py
