#!/bin/sh
# Provided-buffer size vs echo throughput (raw-ring example), 50 connections.
# flock -x /tmp/bench.lock sh bench/net-facade/bufsize.sh
cd "$(dirname "$0")/../.."
cc -O2 -o /tmp/nf-loadgen bench/net-facade/loadgen.c
for bs in 4096 16384 65536 262144; do
  count=$((16777216 / bs)); [ $count -gt 4096 ] && count=4096
  URING_NET_BUF_SIZE=$bs URING_NET_BUF_COUNT=$count node dist/examples/echo-server.js --port 7110 > /tmp/nf-bs.log 2>&1 &
  pid=$!
  for i in $(seq 50); do grep -q listening /tmp/nf-bs.log 2>/dev/null && break; sleep 0.1; done
  for size in 64 65536; do printf 'buf=%-7s ' $bs; /tmp/nf-loadgen 7110 50 $size 3; done
  kill $pid; wait $pid 2>/dev/null
done
