#!/usr/bin/env bash
# Build the one-folder bundle on Linux with PyInstaller, then smoke-test it the way a person runs
# it: from another folder, with no Python on the path, against a private data dir.
#
#   packaging/build_linux.sh               build dist/bngsync, then test it
#   packaging/build_linux.sh --test-only   test an existing dist/bngsync
#
# Environment:
#   PYTHON        the venv's Python with the project and PyInstaller installed
#                 (default .venv/bin/python; `pip install -e '.[packaging]'`)
#   DIST, WORK    output and scratch folders (default dist, build/pyinstaller)
#   COLD=1        drop the page cache before the first start (root only) for a true cold start
#
# Every step runs even when an earlier one fails; the summary lists each with its result and the
# measurements (also written to $DIST/bngsync-smoke.txt). Exit 0 when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
DIST=$(realpath -m "${DIST:-dist}")
WORK=$(realpath -m "${WORK:-build/pyinstaller}")
BUNDLE=$DIST/bngsync
VERSION=$("$PYTHON" "$ROOT/packaging/version_info.py")
TEST_ONLY=0
[[ "${1:-}" == "--test-only" ]] && TEST_ONLY=1

RESULTS=()   # "step|result|detail" lines for the summary
FAILED=0
record() {   # record STEP RESULT DETAIL
  RESULTS+=("$1|$2|${3:-}")
  [[ "$2" == FAIL ]] && FAILED=1
  printf '== %-34s %s %s\n' "$1" "$2" "${3:-}"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# -- build ----------------------------------------------------------------------------------------
if ((!TEST_ONLY)); then
  if ! "$PYTHON" -m PyInstaller --version >/dev/null 2>&1; then
    echo "PyInstaller is not installed in $PYTHON's environment: pip install -e '.[packaging]'" >&2
    exit 2
  fi
  echo "== building with PyInstaller $("$PYTHON" -m PyInstaller --version) (log: $WORK/pyinstaller.log)"
  mkdir -p "$WORK"
  started=$(now)
  if "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
      --distpath "$DIST" --workpath "$WORK" packaging/bngsync.spec >"$WORK/pyinstaller.log" 2>&1; then
    record "build" PASS "$(since "$started") s"
  else
    tail -30 "$WORK/pyinstaller.log"
    record "build" FAIL "see $WORK/pyinstaller.log"
    exit 1
  fi
fi
[[ -x "$BUNDLE/bngsync" ]] || { echo "no bundle at $BUNDLE (build it first)" >&2; exit 1; }

# -- a private corner for the tests: never the user's real data, config or keyring ------------------
SCRATCH=$(mktemp -d -t bngsync-smoke-XXXXXX)
SANDBOX_PID=""
cleanup() {
  [[ -n "$SANDBOX_PID" ]] && kill "$SANDBOX_PID" 2>/dev/null
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
export BNGSYNC_DATA_DIR=$SCRATCH/data BNGSYNC_CONFIG=$SCRATCH/config.toml
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV   # the bundle must not lean on the build's Python
CLI=$BUNDLE/bngsync
TRAY=$BUNDLE/bngsync-tray
cd "$SCRATCH"   # run everything from another folder: no source tree next to the bundle

# -- what is in the bundle ------------------------------------------------------------------------------
SIZE=$(du -sh "$BUNDLE" | cut -f1)
SIZE_MB=$(du -sm "$BUNDLE" | cut -f1)
FILES=$(find "$BUNDLE" -type f | wc -l)
record "bundle size" INFO "$SIZE ($SIZE_MB MB, $FILES files)"
# Qt modules the app does not use must stay out (the spec excludes them)
unwanted=$(find "$BUNDLE" -name 'libQt6*' | grep -E 'Qt6(WebEngine|Quick|Qml|3D|Multimedia|Charts|Pdf|Sql|Test|Bluetooth|Positioning|Sensors|SerialPort|Designer|OpenGL)' || true)
if [[ -z "$unwanted" ]]; then
  record "lean (no unused Qt modules)" PASS
else
  record "lean (no unused Qt modules)" FAIL "$(echo "$unwanted" | xargs -n1 basename | tr '\n' ' ')"
fi
# Nothing the bundle ships may miss a Qt/Python library the spec dropped (system libraries such as
# GTK's are the desktop's business: optional plugins load only where they exist).
missing=$(find "$BUNDLE" -name '*.so*' -type f -print0 \
  | LD_LIBRARY_PATH="$BUNDLE/_internal:$BUNDLE/_internal/PySide6/Qt/lib" xargs -0 -n 50 ldd 2>/dev/null \
  | grep 'not found' | grep -E 'libQt6|pyside6|shiboken6|libpython' | awk '{print $1}' | sort -u | tr '\n' ' ')
[[ -z "$missing" ]] && record "libraries resolve" PASS || record "libraries resolve" FAIL "$missing"
[[ -x "$TRAY" ]] && record "tray app in bundle" PASS || record "tray app in bundle" FAIL "no bngsync-tray (ui/app.py missing at build time?)"

# -- cold start: `bngsync --version`, first run and best of 3 ---------------------------------------
drop_caches() {  # COLD=1: start from disk, as after a reboot (root only)
  [[ "${COLD:-0}" == 1 && -w /proc/sys/vm/drop_caches ]] && sync && echo 3 >/proc/sys/vm/drop_caches
}
if drop_caches; then
  cold_note="first run, after dropping the page cache"
else
  cold_note="first run, warm page cache (COLD=1 for a cold one)"
fi
started=$(now)
version_out=$("$CLI" --version 2>&1)
FIRST=$(since "$started")
BEST=""
for _ in 1 2 3; do
  started=$(now)
  "$CLI" --version >/dev/null 2>&1
  t=$(since "$started")
  BEST=$(awk -v t="$t" -v b="${BEST:-$t}" 'BEGIN { print (t < b ? t : b) }')
done
want="bngsync $VERSION"
if [[ "$version_out" == "$want" ]]; then
  record "bngsync --version" PASS "$version_out"
else
  record "bngsync --version" FAIL "got '$version_out', want '$want'"
fi
record "cold start (--version)" INFO "${FIRST} s $cold_note; best of 3: ${BEST} s"

# -- the command line ---------------------------------------------------------------------------------
if "$CLI" --help >"$SCRATCH/help.txt" 2>&1 && grep -q "sandbox" "$SCRATCH/help.txt"; then
  record "bngsync --help" PASS
else
  record "bngsync --help" FAIL "$(tail -3 "$SCRATCH/help.txt")"
fi
if "$CLI" config init >"$SCRATCH/config.txt" 2>&1 && "$CLI" config check >>"$SCRATCH/config.txt" 2>&1; then
  record "config init / check" PASS
else
  record "config init / check" FAIL "$(tail -3 "$SCRATCH/config.txt")"
fi

# The sandbox on free ports; it writes a config pointing at itself, which also says it is up
# (its stdout is block-buffered in a pipe, so the file is the reliable signal). Started as a
# simple command so that $! is the program itself and Ctrl-C (SIGINT) reaches it.
"$CLI" sandbox --nop-port 0 --bng-port 0 --write-config "$SCRATCH/sandbox.toml" >"$SCRATCH/sandbox.log" 2>&1 &
SANDBOX_PID=$!
for _ in $(seq 100); do [[ -s "$SCRATCH/sandbox.toml" ]] && break; sleep 0.1; done
if [[ -s "$SCRATCH/sandbox.toml" ]]; then
  # the sandbox's fixed test credentials, as `bngsync sandbox` prints them; the tray app below
  # runs its agent against the sandbox too, so nothing reaches out of this machine
  export BNGSYNC_CONFIG=$SCRATCH/sandbox.toml BNGSYNC_NOP_PASSWORD=sandbox-password BNGSYNC_BNG_API_KEY=sandbox-bng-key
  if "$CLI" connections test >"$SCRATCH/connections.txt" 2>&1; then
    record "connections test (sandbox)" PASS
  else
    record "connections test (sandbox)" FAIL "$(tail -3 "$SCRATCH/connections.txt")"
  fi

  if [[ -x "$TRAY" ]]; then
    # -- the tray app offscreen: it must start and stay up (124: timeout had to stop it)
    QT_QPA_PLATFORM=offscreen timeout 5 "$TRAY" >"$SCRATCH/tray.txt" 2>&1; rc=$?
    if ((rc == 124)); then
      record "tray app offscreen (5 s)" PASS
    else
      record "tray app offscreen (5 s)" FAIL "exit $rc: $(grep -v propagateSizeHints "$SCRATCH/tray.txt" | tail -3 | tr '\n' ' ')"
    fi

    # -- time to tray icon visible, on a virtual X display with a tray (Xvfb + trayer + xdotool)
    if command -v Xvfb >/dev/null && command -v trayer >/dev/null && command -v xdotool >/dev/null; then
      display=90
      while [[ -e /tmp/.X11-unix/X$display || -e /tmp/.X$display-lock ]]; do display=$((display + 1)); done
      Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >"$SCRATCH/xvfb.log" 2>&1 &
      xvfb_pid=$!
      for _ in $(seq 50); do [[ -e /tmp/.X11-unix/X$display ]] && break; sleep 0.1; done
      DISPLAY=":$display" trayer --edge top --align right --widthtype pixel --width 200 --height 24 \
        >"$SCRATCH/trayer.log" 2>&1 &
      trayer_pid=$!
      sleep 1
      drop_caches && tray_note="cold" || tray_note="warm"
      started=$(now)
      DISPLAY=":$display" QT_QPA_PLATFORM=xcb "$TRAY" --background >"$SCRATCH/tray-x11.txt" 2>&1 &
      tray_pid=$!
      visible=""
      for _ in $(seq 300); do  # up to 15 s
        if DISPLAY=":$display" xdotool search --onlyvisible --pid "$tray_pid" >/dev/null 2>&1; then
          visible=$(since "$started"); break
        fi
        kill -0 "$tray_pid" 2>/dev/null || break
        sleep 0.05
      done
      kill "$tray_pid" "$trayer_pid" "$xvfb_pid" 2>/dev/null
      wait "$tray_pid" "$trayer_pid" "$xvfb_pid" 2>/dev/null
      if [[ -n "$visible" ]]; then
        record "tray icon visible (Xvfb + trayer)" INFO "${visible} s from start ($tray_note page cache)"
      else
        record "tray icon visible (Xvfb + trayer)" FAIL "no visible window: $(tail -3 "$SCRATCH/tray-x11.txt" | tr '\n' ' ')"
      fi
    else
      record "tray icon visible (Xvfb + trayer)" SKIP "needs Xvfb, trayer and xdotool"
    fi
  fi
  export BNGSYNC_CONFIG=$SCRATCH/config.toml
  unset BNGSYNC_NOP_PASSWORD BNGSYNC_BNG_API_KEY

  kill -INT "$SANDBOX_PID"
  for _ in $(seq 100); do kill -0 "$SANDBOX_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SANDBOX_PID" 2>/dev/null; then
    record "sandbox start / stop" FAIL "still running 10 s after Ctrl-C"
  else
    wait "$SANDBOX_PID"; rc=$?
    ((rc == 0)) && record "sandbox start / stop" PASS || record "sandbox start / stop" FAIL "exit $rc"
  fi
  SANDBOX_PID=""
else
  record "sandbox start / stop" FAIL "$(tail -3 "$SCRATCH/sandbox.log")"
fi

# -- upgrades: a database from an older version migrates on first start and keeps its data ----------
UPGRADE_DIR=$SCRATCH/upgrade
if "$PYTHON" - "$UPGRADE_DIR" <<'EOF' >"$SCRATCH/upgrade.txt" 2>&1
import sys, time
from pathlib import Path
from agent.store.db import Store
path = Path(sys.argv[1]); path.mkdir(parents=True)
old = Store(path / "bngsync.sqlite3"); old.db.connect()
old.migrate(target=1)  # the first released schema
now = time.time()
with old.write():
    old.execute("INSERT INTO job (kind, dedupe_key, payload, state, due_at, created_at, updated_at) "
                "VALUES ('order.create', 'nop-order:1', '{}', 'pending', ?, ?, ?)", (now, now, now))
old.close()
EOF
then
  "$CLI" --data-dir "$UPGRADE_DIR" status >>"$SCRATCH/upgrade.txt" 2>&1
  check=$("$PYTHON" - "$UPGRADE_DIR" <<'EOF' 2>&1
import sqlite3, sys
from agent.store import migrations
db = sqlite3.connect(f"{sys.argv[1]}/bngsync.sqlite3")
version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
kept = db.execute("SELECT count(*) FROM job WHERE dedupe_key = 'nop-order:1'").fetchone()[0]
print("ok" if version == migrations.LATEST and kept == 1 else f"schema {version}/{migrations.LATEST}, job kept: {kept}")
EOF
)
  [[ "$check" == ok ]] && record "upgrade: old database migrates" PASS || record "upgrade: old database migrates" FAIL "$check"
else
  record "upgrade: old database migrates" FAIL "$(tail -3 "$SCRATCH/upgrade.txt")"
fi

# -- the demo: orders flowing both ways, headless -----------------------------------------------------
started=$(now)
if timeout 180 "$CLI" demo --orders 5 --timeout 120 >"$SCRATCH/demo.txt" 2>&1; then
  record "demo (5 orders)" PASS "$(since "$started") s"
else
  # Tell a packaging problem from a broken demo: run it from the source checkout too.
  tail -5 "$SCRATCH/demo.txt"
  if (cd "$ROOT" && timeout 180 "$PYTHON" -m agent.cli demo --orders 5 --timeout 120 >"$SCRATCH/demo-source.txt" 2>&1); then
    record "demo (5 orders)" FAIL "fails from the bundle but passes from source: a packaging problem"
  else
    record "demo (5 orders)" FAIL "fails from source too: $(tail -1 "$SCRATCH/demo-source.txt")"
  fi
fi

# -- summary -------------------------------------------------------------------------------------------
{
  echo "bngsync bundle smoke test — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -sm), $BUNDLE"
  for line in "${RESULTS[@]}"; do
    IFS='|' read -r step result detail <<<"$line"
    printf '  %-34s %-8s %s\n' "$step" "$result" "$detail"
  done
} | tee "$DIST/bngsync-smoke.txt"
exit $FAILED
