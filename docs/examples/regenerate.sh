#!/usr/bin/env bash
# Regenerate the real transcripts in docs/examples/: a fresh `kvit serve` on embedded SQLite in a
# scratch directory, then docs/resident-flow.sh and docs/notices-flow.sh against it. Needs
# `kvit` (make install puts it in .venv/bin), curl and jq. Usage: bash docs/examples/regenerate.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
docs=$(dirname "$here")
[ -x "$docs/../.venv/bin/kvit" ] && export PATH="$docs/../.venv/bin:$PATH"
scratch=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$scratch"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export KVIT_URL="http://127.0.0.1:$port"
cd "$scratch"
kvit serve --port "$port" >"$scratch/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do curl -sf "$KVIT_URL/readyz" >/dev/null && break; sleep 0.5; done
bash "$docs/resident-flow.sh" >"$here/resident-flow.console"
bash "$docs/notices-flow.sh" >"$here/notices-flow.console"
echo "wrote $here/resident-flow.console and $here/notices-flow.console"
