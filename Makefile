# Kefu Sandbox. Quick start: `make run` (set up and serve), `make test` (set up and run every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
export FLASK_APP := app

.PHONY: run run-gevent run-cluster haproxy test setup setup-dev frontend translations db chromium lint bench bench-peer clean

run: setup db
	$(FLASK) demo seed
	@echo "Serving on http://$${KEFU_HOST:-127.0.0.1}:$${KEFU_PORT:-5000}  (Ctrl-C to stop)"
	$(PY) app.py

# The same, with the web process on gevent (KEFU_ASYNC_MODE=gevent, concurrency.py): many more chat sockets.
run-gevent: setup db
	$(FLASK) demo seed
	KEFU_ASYNC_MODE=gevent $(PY) app.py

# Several web processes behind HAProxy (sticky sessions) and media workers, on PostgreSQL and Redis
# (DATABASE_URL, REDIS_URL; KEFU_CLUSTER_WEB=3, KEFU_CLUSTER_MEDIA=2): cluster/run.sh, README "Running a cluster".
run-cluster: setup haproxy
	cluster/run.sh

haproxy:
	@if ! command -v haproxy >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; fi; \
	fi

setup: $(VENV)/.installed frontend translations

setup-dev: setup $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Front-end libraries come from the npm registry, never a CDN; the page loads them from static/vendor.
# axe-core (the accessibility checks of the browser tests) is read from node_modules by the tests, never served.
# Swagger UI (swagger-ui-dist) shows the OpenAPI document on /api/docs (apidocs/).
VENDOR := static/vendor/socket.io.min.js static/vendor/echarts.min.js static/vendor/swagger-ui/swagger-ui-bundle.js
frontend: $(VENDOR)

$(VENDOR) &: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor/swagger-ui
	cp node_modules/socket.io-client/dist/socket.io.min.js node_modules/socket.io-client/dist/socket.io.min.js.map static/vendor/
	cp node_modules/echarts/dist/echarts.min.js static/vendor/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css static/vendor/swagger-ui/

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d translations >/dev/null

db: setup
	$(FLASK) db upgrade

# End-to-end tests drive Debian's Chromium through Playwright (never `playwright install`); Chinese text in
# pages and PDF reports needs a CJK font (fonts-noto-cjk).
SYSTEM_PACKAGES := chromium fonts-noto-cjk
chromium:
	@if ! command -v chromium >/dev/null || [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); fi; \
	fi

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup-dev chromium lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Every page of every role in both languages, screenshotted by Chromium into docs/screenshots (index.html).
screenshots: setup-dev chromium
	$(PY) -m tests.e2e.screenshots docs/screenshots

bench: setup-dev
	$(PY) bench/kb_search.py
	$(PY) bench/chat_load.py

# The Node peer of `bench/chat_load.py --peer` (bench/peer): packages from the npm registry only; better-sqlite3 is
# compiled by node-gyp against the Debian nodejs headers (bench/peer/.npmrc), nothing prebuilt is downloaded.
bench-peer: bench/peer/node_modules/.installed
bench/peer/node_modules/.installed: bench/peer/package.json bench/peer/package-lock.json
	cd bench/peer && npm_config_build_from_source=true npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules static/vendor instance bench/peer/node_modules

# After changing UI text: refresh the catalogs, translate the new zh_CN entries, then `make translations`.
translations-update: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o translations/messages.pot --ignore-dirs='.venv node_modules tests bench' .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations
