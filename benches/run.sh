#!/usr/bin/env bash
# Reports leaktap's analyze throughput on a generated capture of mixed traffic, next to
# a bare libpcap read of the same file (tcpdump -r FILE -w /dev/null), and the peak RSS.
# Usage: benches/run.sh [SIZE_MB]   (default 256)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-256}"
scripts/setup.sh
cargo build --release --quiet --example gen_capture
cargo build --release --quiet
pcap="target/bench-mixed-${size_mb}mb.pcap"
[ -f "$pcap" ] || target/release/examples/gen_capture "$size_mb" "$pcap"
bytes=$(stat -c %s "$pcap")
packets=$(capinfos -c -M "$pcap" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')

run() { # label, command...
    local label="$1"; shift
    local best=""
    for _ in 1 2 3; do
        local start end secs
        start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
        secs=$(echo "$end - $start" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc -l)" = 1 ]; then best=$secs; fi
    done
    printf '%-36s %7.3f s  %6.3f Gbit/s  %9.0f packets/s\n' "$label" "$best" \
        "$(echo "$bytes * 8 / $best / 1000000000" | bc -l)" "$(echo "$packets / $best" | bc -l)"
}

echo "capture: $pcap, $bytes bytes, $packets packets"
run "tcpdump -r (bare libpcap read)" tcpdump -r "$pcap" -w /dev/null
run "leaktap analyze (records only)" target/release/leaktap analyze --format jsonl --no-progress "$pcap"
run "leaktap analyze --events all" target/release/leaktap analyze --format jsonl --events all --no-progress "$pcap"
/usr/bin/time -f "peak RSS of analyze --events all: %M KiB" \
    target/release/leaktap analyze --format jsonl --events all --no-progress "$pcap" >/dev/null 2>/tmp/leaktap-time.txt || true
tail -1 /tmp/leaktap-time.txt
