# churnguard: `make demo` runs the whole loop on simulated data; `make test` passes the tests.
# Both set up everything they need first (Debian packages when root, .venv from requirements.lock).
.PHONY: setup demo test lint typecheck lock bench clean

VENV := .venv/bin
DEMO_WS ?= churnguard-workspace

setup:
	@scripts/setup.sh

demo:
	@scripts/setup.sh --venv-only
	$(VENV)/churnguard demo --workspace $(DEMO_WS)

test: setup
	$(VENV)/ruff check src tests bench
	$(VENV)/mypy
	$(VENV)/pytest -q

lint: setup
	$(VENV)/ruff check src tests bench
	$(VENV)/ruff format --check src tests bench

typecheck: setup
	$(VENV)/mypy

# Re-resolve the lock after changing dependencies in pyproject.toml.
lock:
	$(VENV)/uv pip compile pyproject.toml --extra dev --extra spark --python-version 3.11 \
		--generate-hashes -q -o requirements.lock

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache $(DEMO_WS)
