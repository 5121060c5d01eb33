#!/usr/bin/env bash
# Packaging check: builds the release binary with the embedded UI and bundles it as a .deb with
# the Tauri bundler from npm (@tauri-apps/cli ships a native binary; no cargo tauri-cli needed).
#
#   bash tests/desktop/package-deb.sh      (from the repo root)
#
# Output: target/release/bundle/deb/Shipwatch_<version>_amd64.deb. Checks the package's name,
# binary, desktop entry and icons with dpkg-deb. No AppImage (its tooling downloads at build time).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -f ui/dist/index.html ]; then
  echo "package-deb: building ui/"
  (cd ui && npm run --silent build)
fi

# `tauri build` runs `cargo build --release` with the custom-protocol feature, then bundles.
# --ci: no prompts. The CLI finds src-tauri/tauri.conf.json by itself.
npx --yes @tauri-apps/cli@2 build --ci --bundles deb

deb=$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -n1 || true)
[ -n "$deb" ] || { echo "package-deb: no .deb produced" >&2; exit 1; }

contents=$(dpkg-deb --contents "$deb")
fail=0
for want in usr/bin/shipwatch-desktop usr/share/applications/Shipwatch.desktop \
            usr/share/icons/hicolor/128x128/apps/shipwatch-desktop.png; do
  if ! grep -Eq " (\./)?${want}\$" <<<"$contents"; then echo "package-deb: missing $want" >&2; fail=1; fi
done
dpkg-deb --field "$deb" Package Version Architecture Depends
[ "$fail" = 0 ] || exit 1
echo "package-deb: ok: $deb ($(du -h "$deb" | cut -f1))"
