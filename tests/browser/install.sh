#!/usr/bin/env bash
# What tests/browser.rs needs, installed when missing and a quick no-op when
# present: Debian's chromium at /usr/bin/chromium, and the npm packages that
# tests/browser/package-lock.json pins, in target/browser/node_modules (out of
# the tracked tree; reinstalled when the lock changes or after `cargo clean`).
# Needs node >= 20 with npm already there. Called by .ci/run and .ci/test.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=tests/browser
dest=target/browser
mkdir -p "$dest"

if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium for tests/browser.rs (log: $dest/apt.log)"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    export DEBIAN_FRONTEND=noninteractive
    # Without a fresh package list the first try fails on a new machine.
    if ! { $sudo apt-get install -y -q chromium \
        || { $sudo apt-get update -q && $sudo apt-get install -y -q chromium; }; } >"$dest/apt.log" 2>&1; then
        tail -n 20 "$dest/apt.log" >&2
        echo "could not install chromium: apt-get as root or with passwordless sudo is needed" >&2
        exit 1
    fi
fi

if ! command -v npm >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 20 ]; then
    echo "tests/browser needs node >= 20 and npm (Debian 12's nodejs is 18: use nodejs.org's or NodeSource's)" >&2
    exit 1
fi

# The stamp is the lock npm ci last installed from, written only on success.
stamp="$dest/node_modules/.natsd-installed-lock"
if ! cmp -s "$src/package-lock.json" "$stamp"; then
    echo "installing the browser test's npm packages into $dest/node_modules (npm ci)"
    cp "$src/package.json" "$src/package-lock.json" "$dest/"
    npm ci --prefix "$dest" --no-audit --no-fund --loglevel=error
    cp "$src/package-lock.json" "$stamp"
fi
