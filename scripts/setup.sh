#!/usr/bin/env bash
# Installs what leaktap needs to build, run its demo and pass its tests on Debian 12,
# when it is missing: libpcap (build), tshark and tcpdump (tests compare against them),
# iproute2, curl and nghttp2-server/-client (live tests, h2c), chromium and a CJK font (the
# report test opens the HTML report in headless Chromium). Safe to run again; does nothing
# when all is present.
set -euo pipefail

# Usage: scripts/setup.sh [demo|test]. The demo needs only the build dependencies; the
# tests also need the tools they compare against and drive.
profile="${1:-test}"
packages=(libpcap-dev pkg-config)
if [ "$profile" = "test" ]; then
    packages+=(tshark tcpdump iproute2 curl bc time chromium fonts-noto-cjk nghttp2-server nghttp2-client openssl)
fi
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in "${packages[@]}"; do
    have_pkg "$pkg" || need+=("$pkg")
done

if [ "${#need[@]}" -gt 0 ]; then
    echo "leaktap setup: installing ${need[*]}" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            echo "leaktap setup: need root (or sudo) to install: ${need[*]}" >&2
            exit 1
        fi
    fi
    # tshark asks whether non-root users may capture; the default (no) is right here.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "leaktap setup: cargo (the Rust toolchain) is not on PATH; install it with rustup first" >&2
    exit 1
fi
