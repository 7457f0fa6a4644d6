#!/usr/bin/env bash
# Regenerate the default sample shipped in src/gbi/data/sample/ (needs gbi[generate]).
# QCD: 20,000 events, seed 1; W'(3500) -> X(500) Y(100): 4,000 events, seed 2; one file each.
# The two processes run in parallel (one core each). The shipped files have exclusive-kT
# N-subjettiness axes (--nsub-axes kt; gbi generate's default is onepass-kt, as CMS NanoAOD).
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLE=src/gbi/data/sample
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

gbi generate --process qcd --events 20000 --events-per-file 20000 --seed 1 --nsub-axes kt --out "$WORK" --no-progress &
QCD_PID=$!
gbi generate --process wprime --events 4000 --events-per-file 4000 --seed 2 --nsub-axes kt --out "$WORK" --no-progress &
WPRIME_PID=$!
wait "$QCD_PID"
wait "$WPRIME_PID"

mkdir -p "$SAMPLE"
mv "$WORK/qcd_1_000.root" "$SAMPLE/qcd.root"
mv "$WORK/wprime_3500_500_100_2_000.root" "$SAMPLE/wprime.root"
ls -l "$SAMPLE"
