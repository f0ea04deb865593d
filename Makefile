# The two commands a newcomer needs: `make run` and `make test`.
# Both set up .venv (Python 3.10, pinned packages) and train the NLU model when needed.
SHELL := /bin/bash
PY := .venv/bin/python
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: run test setup browser postgres model chat lint bench clean audit faults soak

run: model  ## start the assistant: web chat on http://127.0.0.1:8080/ (and Telegram/Zalo when configured)
	@PYTHONWARNINGS=ignore $(PY) -m bot serve

test: model browser postgres  ## lint, the supply-chain audit and the whole test suite (storing tests on SQLite and PostgreSQL; TEST_DB=sqlite for one)
	$(PY) -m ruff check .
	@bin/audit
	$(PY) -m pytest

audit:  ## bandit on our code, pip-audit on requirements.lock (says so plainly when no vulnerability source answers)
	@bin/audit

faults: model  ## the fault and input suite alone; writes var/artifacts/robustness.md (the README's Robustness table)
	$(PY) -m pytest tests/faults

soak: model  ## the fuzz properties (tests/fuzz, bounded turns) with many more examples: ~30 min
	HYPOTHESIS_PROFILE=soak $(PY) -m pytest -s tests/fuzz tests/bot/test_turns.py tests/knowledge/test_search_cost.py

setup:  ## .venv with the pinned packages (skipped when requirements.lock is unchanged)
	@bin/setup

browser:  ## Chromium + chromedriver for the browser tests (apt-get, only when missing)
	@bin/setup browser

postgres:  ## PostgreSQL's server binaries for the database tests (apt-get, only when missing; TEST_DB=sqlite skips)
	@[ "$${TEST_DB:-both}" = sqlite ] || bin/setup postgres

model: setup  ## train the NLU model when its data or config.yml changed
	@PYTHONWARNINGS=ignore $(PY) -m nlu train

chat: model  ## chat in the terminal
	@PYTHONWARNINGS=ignore $(PY) -m bot chat

bench: model postgres  ## the benchmarks under bench/ (the NLU pipeline comparison trains DIET too: ~10 min)
	$(PY) bench/knowledge_search.py
	@PYTHONWARNINGS=ignore $(PY) bench/search_cost.py --nlu
	@PYTHONWARNINGS=ignore $(PY) bench/load.py
	@PYTHONWARNINGS=ignore $(PY) bench/nlu_pipelines.py

clean:  ## remove the venvs, trained models and the local database
	rm -rf .venv .venv-audit models var
