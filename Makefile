# The two commands the README promises: `make demo` (the main job on the local lab) and
# `make test` (the whole suite). Both install what they need first.
.PHONY: setup demo test lint bench mutation

setup:
	./scripts/install-deps.sh

demo: setup
	./scripts/demo.sh

test: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	.venv/bin/mypy
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	.venv/bin/mypy

# Every benchmark on the lab (fleet of 32 included), written to docs/BENCHMARKS.md.
bench: setup
	.venv/bin/python bench/run.py

# Mutation testing of the pure decision modules (mutmut, config in pyproject.toml): not part of
# `make test` (it takes far longer than CI's budget allows); results go to docs/TESTING.md.
mutation: setup
	.venv/bin/python scripts/mutation.py
