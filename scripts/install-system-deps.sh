#!/usr/bin/env bash
# Installs the Debian packages rigidpose needs at run time, when they are missing:
#   libegl1 libegl-mesa0 libgl1-mesa-dri  headless OpenGL through EGL (pyrender)
#   libosmesa6                            software OpenGL, pyrender's fallback when EGL fails
#   libusb-1.0-0 libgomp1                 open3d's shared-library needs
#   xvfb xauth                            a virtual display, for the test of the --show window
#   opencv-doc                            OpenCV's sample chessboard photos (left01..14.jpg), the calibration test
#   python3-venv                          only when `python3 -m venv` is not available
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -euo pipefail

packages=(libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 libusb-1.0-0 libgomp1 xvfb xauth opencv-doc)
python=${PYTHON:-python3}
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  packages+=(python3-venv)
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-system-deps: not a Debian-like system; make sure these are installed: ${packages[*]}"
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-deps: all system packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-system-deps: done"
