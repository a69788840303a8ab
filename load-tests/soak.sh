#!/usr/bin/env bash
# The soak: a release `madang serve` (embedded store, loopback, a temporary
# data dir, DEFAULT limits) under honest load at half the measured capacity
# plus abusive clients, for --minutes N (default 30). Samples every 10 s go to
# $OUT/soak.csv (server RSS, open files, threads, acked/s, ack p50/p99, honest
# errors), the abusers' outcomes per window to $OUT/soak-refusals.csv, the
# summary to $OUT/soak.json. Exits non-zero unless the run was flat.
#
#   load-tests/soak.sh [--minutes N] [extra madang-load soak flags…]
#
# Build first: cargo build --release -p madang -p madang-load-tests
# The honest crowd connects from 127.0.1.1–127.0.1.64 (a few dozen connections
# and joins per address, inside the default per-address limits); each abuser
# from its own address, 127.0.0.2–127.0.0.10, where those limits bite.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=30
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes=${2:?--minutes needs a number}; shift 2 ;;
        *) extra+=("$1"); shift ;;
    esac
done
target_dir="${CARGO_TARGET_DIR:-target}"
OUT=${OUT:-$target_dir/load-results}
BIN=${BIN:-$target_dir/release}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/madang-soak.XXXXXX")
# Two thousand honest connections and the abusers' sockets are files; the
# server's connection cap stays its default (this limit less 256).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
taskset -c "$SERVER_CPU" "$BIN/madang" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
    --admin-token soak >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
echo "== soak: $minutes minutes against pid $server_pid on port $port; results in $OUT" >&2
status=0
taskset -c "$GEN_CPU" "$BIN/madang-load" soak --server "127.0.0.1:$port" --admin-token soak --server-pid "$server_pid" \
    --minutes "$minutes" --out "$OUT/soak.csv" "${extra[@]}" || status=$?
if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server exited during the soak; its log:" >&2
    grep -v admin_token "$work/server.log" | tail -n 50 >&2
    status=1
fi
# Without the startup banner's organizer URL, which carries the admin token.
grep -v admin_token "$work/server.log" >"$OUT/soak-server.log" || true
exit "$status"
