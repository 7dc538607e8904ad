# The two commands of the README:
#   make demo   a node filled with sample data, opened in the directors' terminal UI
#   make test   the whole test suite
# Both set up everything they need on a fresh machine (a virtual environment in .venv,
# and the few Debian packages the tests drive: tmux, chromium and a CJK font).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_HOME ?= $(CURDIR)/.demo-node

.PHONY: demo test soak lint clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

system-deps:
	@command -v tmux >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq tmux >/dev/null; \
	  else echo "tmux is missing: sudo apt-get install tmux"; fi; }
	@# The dashboard's browser test: Debian's chromium and a CJK font for Chinese pages.
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wenquanyi micro hei"; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	  else echo "chromium or fonts-wqy-microhei is missing: sudo apt-get install chromium fonts-wqy-microhei"; fi; }
	@# The PostgreSQL backend's contract tests start a throw-away server (initdb, pg_ctl).
	@{ command -v pg_config >/dev/null 2>&1 && [ -x "$$(pg_config --bindir)/pg_ctl" ]; } || \
	  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql is missing: sudo apt-get install postgresql"; fi; }

demo: $(STAMP)
	$(BIN)/villagecourt --home $(DEMO_HOME) demo --open

test: $(STAMP) system-deps
	$(BIN)/ruff check store sync node tui relay tests bench
	$(BIN)/mypy store sync
	$(BIN)/pytest

# Hypothesis looking for new examples (tests/conftest.py, the "soak" profile): randomized,
# every test's max_examples times HYPOTHESIS_SOAK_FACTOR (default 20). Not part of CI.
SOAK_TESTS ?= tests
soak: $(STAMP) system-deps
	HYPOTHESIS_PROFILE=soak $(BIN)/pytest $(SOAK_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check store sync node tui relay tests bench
	$(BIN)/mypy store sync

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .ruff_cache
