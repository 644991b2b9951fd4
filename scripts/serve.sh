#!/usr/bin/env bash
# Set up (system packages, virtual environment) and start OpenRDS on its embedded defaults:
# SQLite metadata and PostgreSQL servers on this host. Arguments go to `openrds serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/openrds serve "$@"
