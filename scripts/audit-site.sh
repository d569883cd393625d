#!/usr/bin/env bash
# Look at the site as a reader would: strict build, serve it gzip-compressed on 127.0.0.1 (as a static host
# would), take light and dark screenshots of five page types in headless Chromium, and run Lighthouse
# (mobile and desktop presets). Not part of `make test` (scores depend on machine load); run by `make audit`.
# Needs: Debian chromium, node + npm (lighthouse and http-server are installed pinned into .cache/audit).
# Output: .cache/audit/*.png, .cache/audit/lighthouse-*.json and a summary table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/audit; mkdir -p "$out"
port=${AUDIT_PORT:-8765}
if [ ! -x "$out/node_modules/.bin/lighthouse" ]; then
  (cd "$out" && npm init -y >/dev/null && npm install --silent lighthouse@13.5.0 http-server@14.1.1 >/dev/null)
fi
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet -d "$out/site"
find "$out/site" -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.json' -o -name '*.svg' \) \
  -exec gzip -kf -9 {} \;
"$out/node_modules/.bin/http-server" "$out/site" -a 127.0.0.1 -p "$port" -g -c3600 --silent &
server=$!
trap 'kill $server' EXIT
sleep 1
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --hide-scrollbars)
pages=(home:/ catalog:/catalog/backends/ concept:/concepts/spot-instances/ recipes:/recipes/
       notebook:/notebooks/latency-vs-throughput/)
for item in "${pages[@]}"; do
  name=${item%%:*}; path=${item#*:}
  for scheme in light dark; do
    extra=(); [ $scheme = dark ] && extra=(--force-dark-mode "--blink-settings=preferredColorScheme=0")
    timeout 60 chromium "${flags[@]}" "${extra[@]}" --user-data-dir="$(mktemp -d)" --window-size=1280,1600 \
      --virtual-time-budget=4000 --screenshot="$out/$name-$scheme.png" "http://127.0.0.1:$port$path" 2>/dev/null
  done
  for preset in mobile desktop; do
    p=(); [ $preset = desktop ] && p=(--preset=desktop)
    CHROME_PATH=/usr/bin/chromium timeout 180 "$out/node_modules/.bin/lighthouse" "http://127.0.0.1:$port$path" \
      --quiet "${p[@]}" --chrome-flags="${flags[*]} --user-data-dir=$(mktemp -d)" --output=json \
      --output-path="$out/lighthouse-$name-$preset.json" \
      --only-categories=performance,accessibility,best-practices,seo >/dev/null 2>&1 || true
  done
done
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("| page | preset | performance | accessibility | best practices | SEO |\n|---|---|--:|--:|--:|--:|")
for f in sorted(out.glob("lighthouse-*.json")):
    r = json.loads(f.read_text())
    c = {k: round(v["score"] * 100) for k, v in r["categories"].items()}
    name, preset = f.stem.split("-")[1:3]
    print(f"| {name} | {preset} | {c['performance']} | {c['accessibility']} | {c['best-practices']} | {c['seo']} |")
PY
