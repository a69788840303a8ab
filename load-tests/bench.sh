#!/usr/bin/env bash
# One command per load scenario: starts the servers it needs on free
# loopback ports, pins them to CPU 0 and the generator to CPU 1 (taskset; on a
# 2-core machine that keeps the generator from stealing the server's core),
# runs `madang-load run` against each target in turn, stops what it started
# (by PID), and leaves one JSON result per target in $OUT (default
# target/load-results).
#
#   load-tests/bench.sh SCENARIO [TARGET...]
#   SCENARIO: a b c e f g smoke        TARGET: madang redis socketio ceiling
#
# Build first: cargo build --release -p madang -p madang-load-tests
# and (for the peer) npm ci in load-tests/peers/socketio.
# Scale with N=… (connections), DURATION=…. The defaults are the scenarios' numbers,
# except where one process cannot hold them: where the hard RLIMIT_NOFILE is
# 20,000 and cannot be raised (no CAP_SYS_RESOURCE), a server holds at most
# about 19,900 connections, so (a) and (b) default to 19,800 (set N=50000 on a
# machine that allows it).
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=${1:?usage: load-tests/bench.sh SCENARIO [TARGET...]}
shift
target_dir="${CARGO_TARGET_DIR:-target}"
OUT=${OUT:-$target_dir/load-results}
BIN=${BIN:-$target_dir/release}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/madang-bench.XXXXXX")
# Every connection is a file descriptor, in the servers and in the generator.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() {
    # Newest first (the server before the Redis it uses); whatever has not
    # exited 10 s after SIGTERM gets SIGKILL, so a run never hangs here.
    local i pid
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    for _ in $(seq 1 100); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
trap 'cleanup; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

redis_port=
start_redis() {
    redis_port=$(free_port)
    mkdir -p "$work/redis"
    taskset -c "$SERVER_CPU" redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" \
        --appendonly yes --appendfsync always --save '' >"$work/redis.log" 2>&1 &
    pids+=($!)
    wait_port "$redis_port"
}

server_pid=
server_port=
# start_server TARGET: madang (embedded store), redis (madang on Redis), socketio (the peer on Redis).
start_server() {
    server_port=$(free_port)
    case "$1" in
        madang | redis)
            local store=()
            if [ "$1" = redis ]; then
                start_redis
                store=(--redis-url "redis://127.0.0.1:$redis_port")
            fi
            # The generator is thousands of connections and participants from a few loopback
            # addresses, so no per-address cap on connections nor on joins; its moderators share one
            # token and change the agenda faster than people do (f: 125/s), so their allowance is
            # raised; and the global cap is left only what one forum's files need (the default keeps
            # 256 files free, which would stop (a) short of 19,800).
            taskset -c "$SERVER_CPU" "$BIN/madang" serve --listen "127.0.0.1:$server_port" --data-dir "$work/data-$server_port" \
                --admin-token bench --max-connections-per-ip 0 --joins-per-ip-per-minute 0 --api-requests-per-ip-per-sec 0 --staff-frames-per-sec 100000 --max-connections "$(( $(ulimit -n) - 64 ))" \
                "${store[@]}" >"$work/server.log" 2>&1 &
            ;;
        socketio)
            start_redis
            (cd load-tests/peers/socketio && exec taskset -c "$SERVER_CPU" node --max-old-space-size=8192 server.js \
                --port "$server_port" --redis "redis://127.0.0.1:$redis_port") >"$work/server.log" 2>&1 &
            ;;
    esac
    server_pid=$!
    pids+=("$server_pid")
    wait_port "$server_port"
}

# gen TARGET NAME ARGS...: run the generator against a fresh server for TARGET.
gen() {
    local target=$1 name=$2
    shift 2
    start_server "$target"
    local kind=madang
    [ "$target" = socketio ] && kind=socketio
    echo "== $scenario: $name on $target (server pid $server_pid, port $server_port)" >&2
    taskset -c "$GEN_CPU" "$BIN/madang-load" run --target "$kind" --server "127.0.0.1:$server_port" --admin-token bench \
        --server-pid "$server_pid" --name "$name" --out "$OUT/$name-$target.json" "$@" || status=$?
    cleanup
    return "${status:-0}"
}

ceiling() {
    local name=$1 conns=$2 bytes=$3 rounds=$4
    local port
    port=$(free_port)
    taskset -c "$SERVER_CPU" "$BIN/madang-load" ceiling-serve --listen "127.0.0.1:$port" --conns "$conns" --bytes "$bytes" \
        --rounds "$rounds" --interval-ms 1000 >"$work/ceiling.log" 2>&1 &
    pids+=($!)
    wait_port "$port"
    echo "== $scenario: $name on the raw ceiling" >&2
    taskset -c "$GEN_CPU" "$BIN/madang-load" run --target ceiling --server "127.0.0.1:$port" --conns "$conns" \
        --ceiling-bytes "$bytes" --ceiling-rounds "$rounds" --name "$name" --out "$OUT/$name-ceiling.json" || status=$?
    cleanup
    sed 's/^/ceiling-serve: /' "$work/ceiling.log" >&2
    return "${status:-0}"
}

targets=("$@")
D=${DURATION:-}
for t in "${targets[@]:-madang}"; do
    case "$scenario" in
        # (a) 20,000 connections: 10 displays, 2,000 voters casting 5,000 ballots/s, the rest idle; an agenda change a second.
        a) gen "$t" a --conns "${N:-19800}" --displays 10 --voters 2000 --people 2000 --ballot-rate 5000 \
               --agenda-every-ms 1000 --duration "${D:-20}" ;;
        # (b) fan-out of one agenda change to 50,000 connections, 5 rounds; the ceiling with the same frame size.
        b) if [ "$t" = ceiling ]; then
               bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("agenda_frame_bytes") or 420)' \
                   "$OUT/b-madang.json" 2>/dev/null || echo 420)
               ceiling b "${N:-19800}" "$bytes" 5
           else
               gen "$t" b --conns "${N:-19800}" --displays 0 --voters 0 --people 1000 --agenda-changes 5 \
                   --agenda-every-ms 1000 --agenda-rounds-wait-ms 10000 --duration "${D:-30}"
           fi ;;
        # (c) 10,000 ballots within one second of the poll opening.
        c) gen "$t" c --conns "${N:-10010}" --displays 10 --voters "$(( ${N:-10010} - 10 ))" --people "$(( ${N:-10010} - 10 ))" \
               --burst-ms 1000 --agenda-changes 0 --duration "${D:-6}" ;;
        # (e) acked ballots/s at saturation: 2,500 voters at 15/s each (37,500/s offered), 10 displays.
        e) gen "$t" e --conns 2510 --displays 10 --voters 2500 --people 2500 --ballot-rate "${RATE:-37500}" \
               --agenda-every-ms 1000 --duration "${D:-15}" ;;
        # (f) 1% of the idle clients stop reading after 5 s; 8 moderators change the agenda 125 times a second.
        f) gen "$t" f --conns "${N:-5000}" --displays 0 --voters 0 --people 1000 --slow-fraction 0.01 --slow-after-secs 5 \
               --moderators 8 --agenda-every-ms 8 --agenda-changes 100000 --duration "${D:-25}" ;;
        # (g) 10,000 clients drop at 3 s and reconnect within 5 s with last_seq, while the agenda changes 10 times a second.
        g) gen "$t" g --conns "${N:-10000}" --displays 0 --voters 0 --people 1000 --reconnect-at-secs 3 \
               --reconnect-window-secs 5 --agenda-every-ms 100 --duration "${D:-12}" ;;
        # CI: a few hundred connections for a few seconds; fails on any error.
        smoke) gen "$t" smoke --conns 300 --displays 5 --voters 100 --people 100 --ballot-rate 500 \
                   --agenda-every-ms 250 --duration 3 --strict ;;
        *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
done
