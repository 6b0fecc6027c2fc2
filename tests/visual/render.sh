#!/usr/bin/env bash
# Renders what people look at in headless Chromium, as PNGs to look at: the weekly digest mail
# in a mail client's narrow pane (420 px) and a wide window (1000 px), the office status page
# (when the daemon's HTTP listener is built), and the compiled workbook through LibreOffice.
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
# The status page, served by the daemon's HTTP listener.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '\n[http]\nlisten = "127.0.0.1:%s"\n' "$port" >> example.toml
"$bin" --config example.toml run >/dev/null 2>&1 &
daemon=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/" > "$out/status.html" || true
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
"$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,700 \
  --screenshot="$out/status-page.png" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
kill $daemon 2>/dev/null || true
for w in 420 1000; do
  "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=$w,1200 \
    --screenshot="$out/digest-$w.png" "file://$out/digest.html" >/dev/null 2>&1
done
if command -v libreoffice >/dev/null; then
  libreoffice --headless --convert-to pdf --outdir "$out" "$out/status.xlsx" >/dev/null 2>&1
  command -v pdftoppm >/dev/null && pdftoppm -r 70 -png -f 1 -l 1 "$out/status.pdf" "$out/status-page"
fi
ls -1 "$out"
