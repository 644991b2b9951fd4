#!/usr/bin/env bash
# Installs what OpenRDS needs on a Debian machine: system packages (when missing) and a virtual
# environment with the package. `--test` adds the test extras and what the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

# haproxy: read-only group endpoints (one HAProxy per group, run by OpenRDS itself).
# pgbackrest: WAL archiving, base backups and point-in-time restores.
packages=(postgresql postgresql-contrib haproxy pgbackrest)
if [ "$with_tests" = 1 ]; then
  packages+=(xfsprogs)
  # The console's browser tests drive Debian's Chromium through Playwright (nothing is downloaded);
  # fonts-liberation is only a recommendation of chromium, and pages need a font to be drawn.
  packages+=(chromium fonts-liberation)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  # Debian's postgresql package starts a cluster of its own on 5432; OpenRDS does not use it.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" haproxy "* ]]; then
    # The package enables a system-wide haproxy service; OpenRDS runs its own processes, one per group.
    if [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now haproxy >/dev/null 2>&1 || true
    else
      $sudo systemctl disable haproxy >/dev/null 2>&1 || true
      $sudo /etc/init.d/haproxy stop >/dev/null 2>&1 || true
    fi
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ "$with_tests" = 1 ]; then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi
