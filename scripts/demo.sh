#!/usr/bin/env bash
# Quick start, first command: install what is missing, build, run the end-to-end demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec tests/demo/run_demo.sh build
