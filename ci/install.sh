#!/usr/bin/env bash
# Create .venv and install gbi with every extra, pinned by ci/constraints.txt.
# torch first: 'torch==2.13.0' takes the CPU build; an unpinned torch pulls several GB of CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q torch==2.13.0
pip install -q -e ".[test,dask,generate]" -c ci/constraints.txt
