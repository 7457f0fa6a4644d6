#!/usr/bin/env bash
# ruff lint + format check over the whole repository, then the mypy type check of src/gbi
# (settings in pyproject.toml, [tool.mypy]).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
ruff check .
ruff format --check .
mypy
