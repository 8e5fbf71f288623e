# Shortcuts for the scripts in scripts/ (a fresh Debian may lack make: call those directly).
.PHONY: demo test bench lint format
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
bench:
	bash scripts/setup.sh bench && .venv/bin/python benchmarks/run_all.py
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
