#!/usr/bin/env bash
# Set up everything the tests need, check style and types, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
.venv/bin/ruff check src tests bench
.venv/bin/mypy  # strict, over src/openrds: see [tool.mypy] in pyproject.toml
exec .venv/bin/python -m pytest "$@"
