#!/usr/bin/env bash
# The slow tests (marked @pytest.mark.slow), a separate job after the default run.
set -uo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
pytest -m slow
status=$?
if [ "$status" -eq 5 ]; then  # no slow test collected: not a failure
  echo "no slow tests"
  exit 0
fi
exit "$status"
