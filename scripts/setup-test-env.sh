#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (on Arch the tools are native):
# pacman's own tools (makepkg, vercmp, repo-add, pacman), gnupg, zstd, bsdtar, xz,
# an unprivileged user for makepkg (it refuses to run as root), and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=(makepkg vercmp repo-add pacman gpg zstd bsdtar xz runuser gcc)
missing=()
for t in "${tools[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if ((${#missing[@]})); then
  if [ -f /etc/arch-release ]; then
    echo "missing on Arch: ${missing[*]} (install pacman, gnupg, zstd, libarchive, xz, gcc)" >&2; exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${missing[*]}; run as root or: sudo apt-get install makepkg pacman-package-manager archlinux-keyring gnupg zstd libarchive-tools xz-utils gcc libc6-dev" >&2
    exit 1
  fi
  echo "installing Debian packages for: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    makepkg pacman-package-manager archlinux-keyring gnupg zstd libarchive-tools xz-utils util-linux fakeroot file gcc libc6-dev >/dev/null
fi

# The status page's browser test (test/e2e/status-page-browser.test.ts) drives Debian's headless Chromium.
if [ ! -f /etc/arch-release ] && [ ! -x /usr/bin/chromium ] && [ "$(id -u)" -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# makepkg refuses root: tests run it as this user (see test/helpers/real-tools.ts).
if [ "$(id -u)" -eq 0 ]; then
  user="${ARB_TEST_USER:-arb-builder}"
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
fi

# `npm ci` only, never `npm install`: CI must fail on a lock file that a user's `npm ci` would refuse.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
