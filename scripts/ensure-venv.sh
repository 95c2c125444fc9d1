#!/usr/bin/env bash
# Create .venv with Python 3.11+ (installing Debian's venv support when it is missing).
set -euo pipefail
venv=${1:-.venv}
[ -x "$venv/bin/python" ] && exit 0
python=$(command -v python3.11 || command -v python3 || true)
if [ -z "$python" ]; then
  echo "Python 3.11 is needed: apt-get install python3 python3-venv" >&2; exit 1
fi
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "Python 3.11 or newer is needed; found $("$python" --version)" >&2; exit 1; }
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  echo "Installing Debian's python3-venv (needed to create .venv)..."
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq python3-venv
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
