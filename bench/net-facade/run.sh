#!/bin/sh
# Ad-hoc echo comparison: raw-ring example, facade, node:net, C epoll.
# Usage (from the worktree, exclusive lock): flock -x /tmp/bench.lock sh bench/net-facade/run.sh [CONNS] [SECS]
set -e
cd "$(dirname "$0")/../.."
CONNS=${1:-50}; SECS=${2:-5}
cc -O2 -o /tmp/nf-loadgen bench/net-facade/loadgen.c
cc -O2 -o /tmp/nf-epoll bench/net-facade/epoll-echo.c
run() { # name port cmd...
  name=$1; port=$2; shift 2
  "$@" > /tmp/nf-server.log 2>&1 &
  pid=$!
  for i in $(seq 50); do grep -q listening /tmp/nf-server.log 2>/dev/null && break; sleep 0.1; done
  for size in 64 65536; do
    printf '%-22s ' "$name"; /tmp/nf-loadgen $port $CONNS $size $SECS
  done
  kill $pid; wait $pid 2>/dev/null || true
}
run "uring example (ring)" 7100 node dist/examples/echo-server.js --port 7100
run "uring facade (Duplex)" 7101 node bench/net-facade/facade-echo.js 7101
run "node:net" 7102 node bench/net-facade/node-echo.js 7102
run "C epoll" 7103 /tmp/nf-epoll 7103
