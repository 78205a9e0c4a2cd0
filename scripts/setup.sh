#!/bin/sh
# Install the Debian 12 packages smtpscope needs to build and test, when missing.
# Run as root (or with sudo). Safe to run again: it installs only what is absent.
set -eu

PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev
libglib2.0-dev libpcap-dev zlib1g-dev libwireshark-dev wireshark-dev tshark
tcpdump python3 util-linux time openssl"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done

if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
