# The two commands a newcomer needs: `make run` and `make test`. Both set up what they use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements

.PHONY: run test lint bench-memory setup redis clean

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

redis: $(STAMP)
	$(PY) scripts/ensure_redis.py

test: $(STAMP) redis
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

run: $(STAMP) redis
	$(PY) manage.py migrate --noinput
	$(PY) scripts/run_app.py

bench-memory: $(STAMP)
	$(PY) bench/memory.py

clean:
	rm -rf $(VENV) .run .pytest_cache db.sqlite3
