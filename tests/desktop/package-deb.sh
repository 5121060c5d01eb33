#!/usr/bin/env bash
# Packaging check: builds the release binaries (the desktop app with the embedded UI, and the
# `shipwatch` CLI with its man pages) and bundles them as a .deb with the Tauri bundler from npm
# (@tauri-apps/cli ships a native binary; no cargo tauri-cli needed), then checks the package.
#
#   bash tests/desktop/package-deb.sh                 build, bundle and check (from the repo root)
#   bash tests/desktop/package-deb.sh --check FILE    only check an existing .deb
#
# Output: target/release/bundle/deb/Shipwatch_<version>_amd64.deb. Checks the package's name,
# binaries, desktop entry, icons and man page with dpkg-deb, then runs the CLI from the unpacked
# package: --version, --help, and `serve` on free ports with a temporary data dir taking one signed
# delivery. No AppImage (its tooling downloads at build time).
set -euo pipefail
cd "$(dirname "$0")/../.."

check_only=""
if [ "${1:-}" = "--check" ]; then
  check_only="${2:?usage: package-deb.sh --check FILE.deb}"
fi

if [ -z "$check_only" ]; then
  if [ ! -f ui/dist/index.html ]; then
    echo "package-deb: building ui/"
    (cd ui && npm run --silent build)
  fi

  # The CLI and its man pages are not the Tauri app's own binary: bundle.linux.deb.files in
  # src-tauri/tauri.conf.json copies them from target/release, so they are built first. The pages
  # are rendered from the release binary's own clap definitions (`shipwatch manpages`, hidden), so
  # they say what --help says.
  echo "package-deb: building the shipwatch CLI (release)"
  cargo build --release --locked -p shipwatch-cli
  rm -rf target/release/man
  target/release/shipwatch manpages --out target/release/man/man1
  gzip -9n target/release/man/man1/*.1

  # `tauri build` runs `cargo build --release` with the custom-protocol feature, then bundles.
  # --ci: no prompts. The CLI finds src-tauri/tauri.conf.json by itself.
  npx --yes @tauri-apps/cli@2 build --ci --bundles deb
  deb=$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -n1 || true)
  [ -n "$deb" ] || { echo "package-deb: no .deb produced" >&2; exit 1; }
else
  deb="$check_only"
fi

contents=$(dpkg-deb --contents "$deb")
fail=0
for want in usr/bin/shipwatch-desktop usr/bin/shipwatch usr/share/applications/Shipwatch.desktop \
            usr/share/icons/hicolor/128x128/apps/shipwatch-desktop.png \
            usr/share/man/man1/shipwatch.1.gz usr/share/man/man1/shipwatch-serve.1.gz; do
  if ! grep -Eq " (\./)?${want}\$" <<<"$contents"; then echo "package-deb: missing $want" >&2; fail=1; fi
done
if ! grep -Eq '^-rwxr-xr-x .* (\./)?usr/bin/shipwatch$' <<<"$contents"; then
  echo "package-deb: usr/bin/shipwatch is missing or not executable (0755)" >&2
  fail=1
fi
dpkg-deb --field "$deb" Package Version Architecture Depends
[ "$fail" = 0 ] || exit 1

# The CLI as a user who installed the package runs it: from the unpacked package.
tmp=$(mktemp -d)
serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
dpkg-deb -x "$deb" "$tmp/root"
cli="$tmp/root/usr/bin/shipwatch"
version=$(dpkg-deb --field "$deb" Version)
got=$("$cli" --version)
[ "$got" = "shipwatch $version" ] || { echo "package-deb: $cli --version says '$got', expected 'shipwatch $version'" >&2; exit 1; }
help=$("$cli" --help)
for command in serve verify sign send replay export stats; do
  grep -Eq "^  $command " <<<"$help" || { echo "package-deb: shipwatch --help does not list $command" >&2; exit 1; }
done
"$cli" serve --help | grep -q -- '--inspector-listen' || { echo "package-deb: shipwatch serve --help" >&2; exit 1; }
# The man page is gzip'd roff for `shipwatch` that names the commands.
man_page="$tmp/root/usr/share/man/man1/shipwatch.1.gz"
gzip -t "$man_page"
zcat "$man_page" | grep -q '^\.TH shipwatch 1' || { echo "package-deb: shipwatch.1.gz is not the shipwatch man page" >&2; exit 1; }
zcat "$man_page" | grep -q 'replay' || { echo "package-deb: the man page does not list the commands" >&2; exit 1; }

# `shipwatch serve` on ports the system picks, with a temporary data dir: one signed delivery is
# answered 200 and stored, /healthz answers 200, SIGTERM stops it cleanly.
secret="package-check-secret"
SHIPWATCH_SECRET="$secret" SHIPWATCH_LOG=warn "$cli" serve --data-dir "$tmp/data" \
  --listen 127.0.0.1:0 --inspector-listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
serve_pid=$!
receiver=""
for _ in $(seq 1 300); do
  receiver=$(sed -n 's/^receiver: //p' "$tmp/serve.out")
  [ -n "$receiver" ] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$receiver" ] || { echo "package-deb: serve printed no receiver line" >&2; cat "$tmp/serve.out" "$tmp/serve.err" >&2; exit 1; }
body=tests/fixtures/aftership-v4-tracking-update.json
signature=$(SHIPWATCH_SECRET="$secret" "$cli" sign --body "$body")
status=$(curl -sS -o "$tmp/answer" -w '%{http_code}' -X POST "$receiver" -H 'Content-Type: application/json' \
  -H "aftership-hmac-sha256: $signature" --data-binary @"$body")
[ "$status" = 200 ] || { echo "package-deb: the signed delivery was answered $status: $(cat "$tmp/answer")" >&2; exit 1; }
hostport=${receiver#http://}
healthz="http://${hostport%%/*}/healthz"
health=$(curl -sS -o /dev/null -w '%{http_code}' "$healthz")
[ "$health" = 200 ] || { echo "package-deb: $healthz answered $health" >&2; exit 1; }
"$cli" export deliveries --data-dir "$tmp/data" --format csv | grep -q ',valid,200,' \
  || { echo "package-deb: the delivery is not stored as valid" >&2; exit 1; }
kill -TERM "$serve_pid"
wait "$serve_pid" || { echo "package-deb: serve exited $? on SIGTERM" >&2; cat "$tmp/serve.err" >&2; exit 1; }
serve_pid=""
grep -qx 'stopped.' "$tmp/serve.out" || { echo "package-deb: serve did not say it stopped" >&2; exit 1; }

echo "package-deb: ok: $deb ($(du -h "$deb" | cut -f1)); the packaged CLI ran serve, sign and export"
