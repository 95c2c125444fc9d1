#!/usr/bin/env bash
# desktop.py's window is Qt WebEngine from PyPI's wheels; on Debian or Ubuntu it needs these
# X and graphics libraries (most desktops have them; libxcb-cursor0 is often missing).
# With --test, also Xvfb and xdotool, for the window's test on a machine without a screen.
# Installs only what is missing, with apt-get; elsewhere it says what to do and succeeds.
set -euo pipefail
packages=(libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-render-util0 libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-xkb1 libegl1 libgl1
  libnss3 libxcomposite1 libxdamage1 libxrandr2 libxtst6 libasound2 libdbus-1-3
  libfontconfig1 libxkbfile1 libxshmfence1 libgbm1 fonts-dejavu-core)
[ "${1:-}" = "--test" ] && packages+=(xvfb xauth xdotool)
[ "$(uname -s)" = "Linux" ] || exit 0
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "Not a Debian-like system: install Qt 6 WebEngine's X libraries (libxcb-cursor and friends) with your package manager if the window does not open."
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing for the desktop window: ${missing[*]}"
sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq "${missing[@]}"
