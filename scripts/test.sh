#!/usr/bin/env bash
# The README's second command: set up and run the whole test suite (unit, golden-file and
# integration tests, and the comparison with tshark over ../shared/data/pcaps when present).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
cargo test --release --quiet -- --test-threads 2 "$@"
