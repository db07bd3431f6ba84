# The two commands a newcomer needs: `make run` and `make test`. Both set up what they use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements

.PHONY: run test lint bench-memory bench-forkjoin bench-train bench-search bench-search-cost bench-rank bench-inherit bench-web setup redis chromium screenshots clean

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

redis: $(STAMP)
	$(PY) scripts/ensure_redis.py

# Browser tests drive Debian's Chromium through Playwright (no browser download): install it when
# missing (needs root and apt, as on CI); without it the browser tests are skipped with a reason.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } ; } || \
	  echo "chromium not installed: browser tests will be skipped (apt-get install chromium)"

test: $(STAMP) redis chromium
	$(PY) -m ruff check .
	$(PY) -m pytest

screenshots: $(STAMP) redis chromium
	$(PY) scripts/screenshots.py --out docs/screenshots

lint: $(STAMP)
	$(PY) -m ruff check .

run: $(STAMP) redis
	$(PY) manage.py migrate --noinput
	$(PY) scripts/run_app.py

# Benchmarks (README "Benchmarks"): minutes to an hour each; they print ratios, not pass/fail.
bench-memory: $(STAMP)
	$(PY) bench/memory.py

bench-forkjoin: $(STAMP)
	$(PY) bench/forkjoin.py

bench-train: $(STAMP)
	$(PY) bench/train.py

bench-search: $(STAMP)
	$(PY) bench/search.py --reuse

bench-search-cost: $(STAMP)
	$(PY) bench/search_cost.py

bench-rank: $(STAMP)
	$(PY) bench/rank_correlation.py

bench-inherit: $(STAMP)
	$(PY) bench/inherit.py

bench-web: $(STAMP) redis
	$(PY) bench/web.py

clean:
	rm -rf $(VENV) .run .pytest_cache db.sqlite3
