#!/usr/bin/env bash
# The README's test command: set up from scratch and run the default test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install.sh
. .venv/bin/activate
pytest
