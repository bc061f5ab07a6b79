#!/usr/bin/env bash
# The README's first command: set up, build, and analyse the demo capture shipped in the
# repository (synthetic lab traffic of one test phone; no mirror port needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
cargo build --release --quiet
exec target/release/leaktap analyze --events http,dns,tls,quic \
    --session demo/phone1.toml demo/lab-demo.pcap "$@"
