#!/usr/bin/env bash
# Set up everything the tests need, check style, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
.venv/bin/ruff check src tests bench
exec .venv/bin/python -m pytest "$@"
