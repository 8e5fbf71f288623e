# Shortcuts for the scripts in scripts/ (a fresh Debian may lack make: call those directly).
.PHONY: demo test bench lint format
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
bench:
	bash scripts/setup.sh bench
	.venv/bin/python benchmarks/simulator_speed.py
	.venv/bin/python benchmarks/analysis/run.py --method both --summary-markdown benchmarks/results/summary.md
	.venv/bin/python benchmarks/analysis/agreement.py
	.venv/bin/python benchmarks/analysis/peer_becquerel.py --max-per-region 200
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
