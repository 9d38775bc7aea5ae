#!/usr/bin/env bash
# Build the Windows installer from a bundle folder, on Linux (Debian's nsis) or anywhere makensis runs.
#
#   packaging/build_installer.sh BUNDLE_DIR [OUT.exe]
#
# BUNDLE_DIR is a PyInstaller one-folder bundle built ON WINDOWS (bngsync.exe, bngsync-tray.exe,
# _internal\); PyInstaller cannot cross-compile, but makensis can, so the installer step runs
# and is tested here. OUT defaults to dist/bngsync-<version>-setup.exe.
#
# Environment: PYTHON (default .venv/bin/python, for the version and the icon),
#              FAST=1 for zlib instead of solid LZMA (quick test builds; ~100 s → seconds for 160 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BUNDLE=${1:?usage: packaging/build_installer.sh BUNDLE_DIR [OUT.exe]}
BUNDLE=$(realpath "$BUNDLE")
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x "$PYTHON" ]] || PYTHON=python3

if [[ ! -f "$BUNDLE/bngsync.exe" ]]; then
  echo "$BUNDLE/bngsync.exe not found: the installer packs a Windows bundle (packaging/build_windows.ps1)" >&2
  exit 2
fi

# makensis: Debian's nsis package (3.08) builds Windows installers on Linux.
if ! command -v makensis >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [[ "$(id -u)" -ne 0 ]] && SUDO="sudo"
    echo "== installing nsis (makensis)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends nsis >/dev/null
  else
    echo "makensis not found: install NSIS 3 (https://nsis.sourceforge.io)" >&2
    exit 2
  fi
fi

# One version everywhere: agent.__version__, in its plain and its four-number form.
VERSION=$("$PYTHON" packaging/version_info.py)
VERSION4=$("$PYTHON" packaging/version_info.py --numeric)
OUT=$(realpath -m "${2:-dist/bngsync-$VERSION-setup.exe}")
mkdir -p "$(dirname "$OUT")"

ARGS=(-V2 -WX "-DVERSION=$VERSION" "-DVERSION4=$VERSION4" "-DBUNDLE=$BUNDLE" "-DOUTFILE=$OUT")
[[ "${FAST:-0}" == 1 ]] && ARGS+=(-DFAST)
# The installer's icon, rendered from the app's SVG (needs PySide6; without it NSIS's default icon).
ICON=$(mktemp -t bngsync-XXXXXX.ico)
trap 'rm -f "$ICON"' EXIT
if "$PYTHON" packaging/app_icon.py "$ICON" >/dev/null 2>&1; then
  ARGS+=("-DICON=$ICON")
fi

echo "== makensis $(makensis -VERSION): bngsync $VERSION from $BUNDLE"
started=$(date +%s)
makensis "${ARGS[@]}" packaging/installer.nsi
echo "== $OUT ($(du -h "$OUT" | cut -f1), $(( $(date +%s) - started )) s)"
