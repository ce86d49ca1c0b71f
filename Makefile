# Lyceum — one command to run, one to test. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The services suite's database and Redis (the machine's MariaDB and Redis by default).
SERVICES_DATABASE_URL ?= mysql://root@127.0.0.1:3306/lyceum
SERVICES_REDIS_URL ?= redis://127.0.0.1:6379/0
EMBEDDED := env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL -u EMAIL_URL -u AWS_STORAGE_BUCKET_NAME
# Homebrew's mysql-client is keg-only: mysqlclient's build finds its pkg-config file through this.
BREW_MYSQL_PC := $(wildcard /opt/homebrew/opt/mysql-client/lib/pkgconfig /usr/local/opt/mysql-client/lib/pkgconfig)
ifneq ($(BREW_MYSQL_PC),)
space := $() $()
export PKG_CONFIG_PATH := $(subst $(space),:,$(strip $(PKG_CONFIG_PATH) $(BREW_MYSQL_PC)))
endif

.PHONY: run run-check env install test test-js test-services test-browser test-browser-stack test-all lint check-deploy schema fuzz-api compose-check lock demo worker beat clean screenshots

# scripts/bootstrap: the system packages the build needs (installed with apt as root or with
# passwordless sudo; otherwise it prints the command and stops). scripts/find-python: a 3.12+.
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt scripts/bootstrap
	VENV=$(VENV) scripts/bootstrap
	test -x $(PY) || $$(scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(VENV)/.installed

## make run: set everything up and serve the site with demo data on http://127.0.0.1:8000
run: install
	$(EMBEDDED) $(PY) manage.py migrate --noinput
	$(EMBEDDED) $(PY) manage.py seed_demo
	$(EMBEDDED) $(PY) manage.py seed_demo_activity
	@echo "Serving on http://127.0.0.1:$(PORT)/  (Ctrl-C to stop)"
	$(EMBEDDED) $(VENV)/bin/daphne -e lyceum:tcp:port=$(PORT):interface=127.0.0.1 config.asgi:application

## make run-check: `make run` in the background on a free port until / answers 200, then stop it (CI)
run-check:
	scripts/run-check

## make env: a .env for docker compose (deploy/env.example with fresh secrets); never overwrites one
env:
	scripts/new-env .env

demo: install
	$(PY) manage.py migrate --noinput && $(PY) manage.py seed_demo && $(PY) manage.py seed_demo_activity

## make test: the whole suite on the embedded default (no database or Redis server needed)
test: install
	$(EMBEDDED) $(VENV)/bin/pytest -m "not browser"

## make test-js: eslint and the unit tests of the browser modules (Node's test runner), from package-lock.json
test-js:
	npm ci --no-audit --no-fund
	npx eslint .
	node --test tests/js/

# axe-core (accessibility checks of the browser tests) comes from package-lock.json too.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

## make test-services: the same suite against real MariaDB/MySQL and Redis
test-services: install
	DATABASE_URL=$(SERVICES_DATABASE_URL) REDIS_URL=$(SERVICES_REDIS_URL) $(VENV)/bin/pytest -m "not browser"

## make test-browser: Playwright + Debian Chromium (/usr/bin/chromium), its own pytest run
test-browser: install node_modules/.installed
	$(EMBEDDED) $(VENV)/bin/pytest -m browser tests/browser

## make test-browser-stack: Chromium through nginx (TLS) to two daphnes and a Celery worker, on MariaDB + Redis
test-browser-stack: install
	DATABASE_URL=$(SERVICES_DATABASE_URL) REDIS_URL=$(SERVICES_REDIS_URL) $(VENV)/bin/pytest -m browser tests/deploy/test_browser_stack.py

test-all: test test-js test-services test-browser test-browser-stack

## make screenshots: the README's pictures (docs/img/chat.png, docs/img/expert-queue.png) from fresh demo data
SHOTS_DB ?= /tmp/lyceum-screenshots.sqlite3
SHOTS_PORT ?= 8765
screenshots: install
	rm -f $(SHOTS_DB)
	$(EMBEDDED) DATABASE_URL=sqlite:///$(SHOTS_DB) $(PY) manage.py migrate --noinput -v 0
	$(EMBEDDED) DATABASE_URL=sqlite:///$(SHOTS_DB) $(PY) manage.py seed_demo -v 0
	$(EMBEDDED) DATABASE_URL=sqlite:///$(SHOTS_DB) $(PY) manage.py seed_demo_activity -v 0
	$(EMBEDDED) DATABASE_URL=sqlite:///$(SHOTS_DB) $(VENV)/bin/daphne -b 127.0.0.1 -p $(SHOTS_PORT) config.asgi:application >/dev/null 2>&1 & \
	  server=$$!; trap "kill $$server" EXIT; \
	  for i in $$(seq 1 60); do curl -sf -o /dev/null http://127.0.0.1:$(SHOTS_PORT)/healthz && break; sleep 0.5; done; \
	  $(PY) tools/screenshots.py http://127.0.0.1:$(SHOTS_PORT) --readme docs/img \
	    --email amara.okafor@lyceum.local --expert-email kenji.watanabe@lyceum.local --password lyceum-demo-2026

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(EMBEDDED) $(PY) manage.py makemigrations --check --dry-run

## Production-like settings must pass Django's deployment checklist without a warning.
check-deploy: install
	$(EMBEDDED) DJANGO_DEBUG=false DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  DJANGO_ALLOWED_HOSTS=lyceum.example.com HELPDESK_DOCUMENT_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	  EMAIL_URL=smtp+tls://mailer.example.com:587 SITE_URL=https://lyceum.example.com $(PY) manage.py check --deploy --fail-level WARNING

schema: install
	$(EMBEDDED) $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

## make fuzz-api: schemathesis fuzzes the JSON API from its OpenAPI schema, against a throw-away
## site (SQLite, demo data) served by daphne on 127.0.0.1, as a demo student; fails on any 5xx or
## any answer the schema does not describe. FUZZ_SECONDS of fuzzing plus about a minute of set-up.
## A new seed each run explores; FUZZ_SEED=N repeats one (CI passes a fixed one).
FUZZ_SECONDS ?= 240
FUZZ_SEED ?=
fuzz-api: install
	$(EMBEDDED) $(PY) tools/fuzz_api.py --max-time $(FUZZ_SECONDS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

compose-check: install
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

## Regenerate constraints.txt (exact pins of everything installed) after changing requirements.
lock:
	rm -rf /tmp/lyceum-lock && $$(scripts/find-python) -m venv /tmp/lyceum-lock
	/tmp/lyceum-lock/bin/pip install -q -r requirements-dev.txt
	/tmp/lyceum-lock/bin/pip freeze --exclude-editable > constraints.txt

worker: install
	$(VENV)/bin/celery -A config worker -l info

beat: install
	$(VENV)/bin/celery -A config beat -l info

clean:
	rm -rf $(VENV) node_modules db.sqlite3 test_db_*.sqlite3 media staticfiles
