#!/usr/bin/env bash
# Desktop end-to-end test: the real Shipwatch window under Xvfb, a real session bus with a real
# notification server (python3-dbusmock's notification_daemon template, which records every
# Notify call), driven by tauri-driver + WebKitWebDriver.
#
#   bash tests/desktop/run.sh          (from the repo root; builds what it needs)
#
# Needs the packages of .ci/setup (xvfb, dbus, webkit2gtk-driver, python3-dbusmock, imagemagick)
# and a built ui/dist. Installs tauri-driver with cargo if missing. Prints
# "desktop e2e: N passed, M failed" last and exits non-zero on any failure. Stops everything it
# started. Screenshots go to tests/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

fail() { echo "desktop e2e: $*" >&2; echo "desktop e2e: 0 passed, 1 failed"; exit 1; }

for bin in Xvfb dbus-run-session WebKitWebDriver /usr/bin/python3; do
  command -v "$bin" >/dev/null 2>&1 || fail "missing $bin: run .ci/setup"
done
/usr/bin/python3 -c 'import dbusmock, dbus' 2>/dev/null || fail "missing python3-dbusmock: run .ci/setup"

if [ ! -f ui/dist/index.html ]; then
  if [ -d ui/node_modules ]; then
    echo "desktop e2e: building ui/"
    (cd ui && npm run --silent build)
  else
    fail "ui/dist is missing: run .ci/setup (it installs and builds the UI)"
  fi
fi

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "desktop e2e: installing tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
export PATH="$HOME/.cargo/bin:$PATH"

# The same package selection as the rest of CI, so features unify the same way (no rebuild).
cargo build --workspace --bin shipwatch-desktop --quiet
BIN="$ROOT/target/debug/shipwatch-desktop"
[ -x "$BIN" ] || fail "no $BIN after the build"

WORK=$(mktemp -d /tmp/shipwatch-desktop-e2e.XXXXXX)
XVFB_PID=""
cleanup() {
  if [ -n "$XVFB_PID" ]; then kill "$XVFB_PID" 2>/dev/null || true; wait "$XVFB_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free display number, chosen by Xvfb itself.
exec 3>"$WORK/display"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
exec 3>&-
for _ in $(seq 1 50); do [ -s "$WORK/display" ] && break; sleep 0.1; done
[ -s "$WORK/display" ] || fail "Xvfb did not start: $(cat "$WORK/xvfb.log")"
export DISPLAY=":$(head -n1 "$WORK/display")"

mkdir -p tests/artifacts
set +e
E2E_WORK="$WORK" E2E_BIN="$BIN" E2E_ARTIFACTS="$ROOT/tests/artifacts" \
  dbus-run-session -- /usr/bin/python3 tests/desktop/e2e.py
status=$?
set -e
if [ "$status" != 0 ]; then
  # Keep the logs of a failed run beside the screenshots (CI artifacts).
  mkdir -p tests/artifacts/desktop-logs
  cp "$WORK"/*.log tests/artifacts/desktop-logs/ 2>/dev/null || true
  echo "desktop e2e: logs kept in tests/artifacts/desktop-logs/"
fi
exit $status
