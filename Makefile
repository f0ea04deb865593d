# The two commands a newcomer needs: `make run` and `make test`.
# Both set up .venv (Python 3.10, pinned packages) and train the NLU model when needed.
SHELL := /bin/bash
PY := .venv/bin/python
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: run test soak setup browser model chat lint bench clean

run: model  ## start the assistant: web chat on http://127.0.0.1:8080/ (and Telegram/Zalo when configured)
	@PYTHONWARNINGS=ignore $(PY) -m bot serve

test: model browser  ## lint and the whole test suite
	$(PY) -m ruff check .
	$(PY) -m pytest

soak: model  ## the fuzz properties (tests/fuzz, bounded turns) with many more examples: ~30 min
	HYPOTHESIS_PROFILE=soak $(PY) -m pytest -s tests/fuzz tests/bot/test_turns.py tests/knowledge/test_search_cost.py

setup:  ## .venv with the pinned packages (skipped when requirements.lock is unchanged)
	@bin/setup

browser:  ## Chromium + chromedriver for the browser tests (apt-get, only when missing)
	@bin/setup browser

model: setup  ## train the NLU model when its data or config.yml changed
	@PYTHONWARNINGS=ignore $(PY) -m nlu train

chat: model  ## chat in the terminal
	@PYTHONWARNINGS=ignore $(PY) -m bot chat

bench: model  ## the benchmarks under bench/ (the NLU pipeline comparison trains DIET too: ~10 min)
	$(PY) bench/knowledge_search.py
	@PYTHONWARNINGS=ignore $(PY) bench/search_cost.py --nlu
	@PYTHONWARNINGS=ignore $(PY) bench/nlu_pipelines.py

clean:  ## remove the venv, trained models and the local database
	rm -rf .venv models var
