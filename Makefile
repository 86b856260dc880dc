.PHONY: test demo lint install

install:
	scripts/install-test-deps

test:
	scripts/test

demo:
	scripts/install-test-deps --pip-only
	.venv/bin/cockpit demo

lint:
	scripts/install-test-deps --pip-only
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports
