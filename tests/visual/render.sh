#!/usr/bin/env bash
# Renders what people look at in headless Chromium, as PNGs to look at: the weekly digest mail
# in a mail client's narrow pane (420 px) and a wide window (1000 px), and the compiled workbook
# through LibreOffice. The console's pages are photographed by tests/console.rs.
# Needs: chromium, libreoffice-calc (or libreoffice), poppler-utils, python3.
# Usage: tests/visual/render.sh [OUTDIR]   (default target/visual)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/visual}
mkdir -p "$out"
bin=$root/target/release/baocao
[ -x "$bin" ] || (cd "$root" && cargo build --release)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/config/example.toml" "$root/config/templates" "$root/config/sample-inbox" "$work/"
cd "$work"
"$bin" --config example.toml ingest sample-inbox >/dev/null
"$bin" --config example.toml digest --as-of 2021-04-12T07:30:00+07:00 >/dev/null
"$bin" --config example.toml export "$out/status.xlsx" --as-of 2021-12-31 >/dev/null
python3 - "$work/var/outbox" "$out" <<'PY'
import email, glob, sys, os
src, out = sys.argv[1], sys.argv[2]
f = sorted(glob.glob(os.path.join(src, 'digest*.eml')))[-1]
m = email.message_from_bytes(open(f, 'rb').read())
for p in m.walk():
    if p.get_content_type() == 'text/html':
        open(os.path.join(out, 'digest.html'), 'wb').write(p.get_payload(decode=True))
PY
# The console's pages (which replaced the status page) are photographed by tests/console.rs.
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
for w in 420 1000; do
  "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=$w,1200 \
    --screenshot="$out/digest-$w.png" "file://$out/digest.html" >/dev/null 2>&1
done
if command -v libreoffice >/dev/null; then
  libreoffice --headless --convert-to pdf --outdir "$out" "$out/status.xlsx" >/dev/null 2>&1
  command -v pdftoppm >/dev/null && pdftoppm -r 70 -png -f 1 -l 1 "$out/status.pdf" "$out/status-page"
fi
ls -1 "$out"
