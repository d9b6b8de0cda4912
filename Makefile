# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-system lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[orjson,postgres,redis]" --group test --group lint
	touch $(STAMP)

run: $(STAMP)
	cd example && ../$(BIN)/python manage.py migrate --noinput
	cd example && ../$(BIN)/python manage.py seed_demo
	cd example && ../$(BIN)/gunicorn -c gunicorn.conf.py config.wsgi

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not system" $(PYTEST_ARGS)

test-system: $(STAMP)
	$(BIN)/python -m pytest -q -m system tests/system $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src example tests bench
	$(BIN)/ruff format --check src example tests bench
	PYTHONPATH=example $(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src example tests bench
	$(BIN)/ruff check --fix src example tests bench

bench: $(STAMP)
	$(MAKE) -C bench

clean:
	rm -rf $(VENV) example/db.sqlite3 build dist
