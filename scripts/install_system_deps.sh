#!/usr/bin/env bash
# Install ngspice with the KLU sparse solver (ngspice >= 41), its shared library (for
# PySpice) and, for Debian's own python3, python3-venv.
#
# Debian bookworm's own ngspice (39.3) has no KLU: a 64x64 operating point takes seconds
# with it. Its backports suite carries ngspice 46. The backports source is derived from
# the Debian mirror already configured on this machine (no host name is written here).
set -euo pipefail

min_version=41
have_version() {
  command -v ngspice >/dev/null 2>&1 || return 1
  local v
  v=$(ngspice --version 2>/dev/null | sed -n 's/.*ngspice-\([0-9]*\).*/\1/p' | head -n1)
  [ -n "$v" ] && [ "$v" -ge "$min_version" ]
}

have_venv() { python3 -c 'import ensurepip, venv' >/dev/null 2>&1; }
have_libngspice() { ldconfig -p 2>/dev/null | grep -q 'libngspice\.so\.0'; }

if have_version && have_libngspice && have_venv; then
  echo "ngspice $(ngspice --version | sed -n 's/.*ngspice-\([0-9.]*\).*/\1/p' | head -n1) with KLU, libngspice and python3-venv already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root (or sudo) to apt-get install ngspice" >&2; exit 1; }
  SUDO="sudo"
fi

. /etc/os-release
codename="${VERSION_CODENAME:-}"
[ -n "$codename" ] || { echo "cannot tell the Debian release from /etc/os-release" >&2; exit 1; }
backports="${codename}-backports"

# The first Debian archive URI already configured (deb822 .sources or one-line format).
mirror=$(
  { awk '/^URIs:/{for(i=2;i<=NF;i++) print $i}' /etc/apt/sources.list.d/*.sources 2>/dev/null
    awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; break}}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
  } | grep -v -- '-security' | grep -m1 '/debian/\?$' || true)
[ -n "$mirror" ] || { echo "no Debian archive found in the configured apt sources" >&2; exit 1; }

if ! grep -rqs "$backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "adding ${backports} from the configured mirror"
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$backports" | $SUDO tee "/etc/apt/sources.list.d/${backports}.sources" >/dev/null
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q -t "$backports" ngspice libngspice0
# Debian's python3 creates virtual environments only with python3-venv (ensurepip)
if ! have_venv && [ -x /usr/bin/python3 ] && [ "$(command -v python3)" = /usr/bin/python3 ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-venv
fi
have_version || { echo "ngspice >= ${min_version} still missing after install" >&2; exit 1; }
ngspice --version | grep -E 'ngspice-|KLU'
