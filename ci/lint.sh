#!/usr/bin/env bash
# ruff lint + format check over the whole repository.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
ruff check .
ruff format --check .
