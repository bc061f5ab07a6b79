#!/usr/bin/env bash
# Bounded memory: analyses a generated 1 GiB capture of mixed traffic and reports the peak
# resident set size, which must stay far below the input size.
# Usage: benches/memory.sh [SIZE_MB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-1024}"
scripts/setup.sh
cargo build --release --quiet --example gen_capture
cargo build --release --quiet
pcap="target/bench-mixed-${size_mb}mb.pcap"
[ -f "$pcap" ] || target/release/examples/gen_capture "$size_mb" "$pcap"
echo "capture: $pcap, $(stat -c %s "$pcap") bytes"
/usr/bin/time -f "peak RSS: %M KiB, elapsed %e s" \
    target/release/leaktap analyze --format jsonl --events all --no-progress "$pcap" 2>&1 >/dev/null | tail -3
