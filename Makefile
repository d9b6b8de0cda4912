# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-server test-system test-walk lint format bench docs dist wheel-smoke clean

$(STAMP): pyproject.toml src/django_lantern/__init__.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[orjson,postgres,redis]" --group test --group lint
	touch $(STAMP)

# Served as production would (DEBUG off, static files by WhiteNoise) on 127.0.0.1:$(PORT); `PORT=8001 make run`.
PORT ?= 8000
run: $(STAMP)
	@# A busy port is said before anything else runs (example/config/ports.py).
	@cd example && ../$(BIN)/python -m config.ports 127.0.0.1:$(PORT)
	cd example && ../$(BIN)/python manage.py migrate --noinput
	cd example && ../$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	cd example && ../$(BIN)/python manage.py seed_demo
	cd example && ../$(BIN)/python manage.py seed_large_org
	# The background job worker runs beside gunicorn, started and stopped by it (docs/jobs.md).
	cd example && EXAMPLE_BACKGROUND_WORKER=1 ../$(BIN)/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:$(PORT) config.wsgi

# The fast suite, on every core: everything but the three suites below, which it names at the end.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not system and not walk and not server" $(PYTEST_ARGS)

# Real processes (gunicorn, uvicorn, Celery and django.tasks workers, Prometheus): tests/server/.
# One test at a time: their bounded waits (Prometheus scrapes, flush deadlines) assume the cores are theirs.
test-server: $(STAMP)
	$(BIN)/python -m pytest -q -m "server and not system and not walk" $(PYTEST_ARGS)

test-system: $(STAMP)
	$(BIN)/python -m pytest -q -m system tests/system $(PYTEST_ARGS)

# A newcomer's walk: `make run`'s server, every home-page link in headless Chromium.
test-walk: $(STAMP)
	$(BIN)/python -m pytest -q -m walk tests/walk $(PYTEST_ARGS)

# The documentation site (MkDocs Material), warnings are errors.
docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

$(VENV)/.docs: pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet --group docs
	touch $@

# The sdist and the wheel in dist/, checked by twine; the wheel rebuilt from the sdist must match.
dist: $(VENV)/.release
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(BIN)/python .ci/check_sdist_wheel.py dist

$(VENV)/.release: pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet --group release
	touch $@

# The built wheel installed (not editable) in fresh venvs, no extras and each extra, on a new startproject site.
wheel-smoke: dist
	$(BIN)/python .ci/wheel_smoke.py dist

lint: $(STAMP)
	$(BIN)/ruff check src example tests bench .ci
	$(BIN)/ruff format --check src example tests bench .ci
	PYTHONPATH=example $(BIN)/mypy
	# The layers of ARCHITECTURE.md (pyproject.toml [tool.importlinter]).
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format src example tests bench
	$(BIN)/ruff check --fix src example tests bench

bench: $(STAMP)
	$(MAKE) -C bench

clean:
	rm -rf $(VENV) example/db.sqlite3 example/staticfiles build dist
