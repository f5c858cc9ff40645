#!/usr/bin/env bash
# Instructions per proxied request of two builds of the balancer, counted by
# valgrind's callgrind: a figure that does not move with the load on the
# machine, for A/B comparisons `make bench` cannot resolve on a busy VM.
#
#   scripts/instructions-ab.sh DIR_A DIR_B [REQUESTS] [WINDOWS]
#
# DIR_A and DIR_B are built checkouts (their dist/cli/switchyard.js; build one
# with `git worktree add /tmp/base <commit> && cd /tmp/base && npm ci && npm
# run build`). Each runs the default engine under callgrind in front of two
# nginx backends on loopback; after a warm-up, WINDOWS windows of REQUESTS
# requests (8 keep-alive connections) are counted separately and printed, and
# the median of the windows after the first. Needs valgrind, nginx, curl.
set -euo pipefail
a=${1:?usage: $0 DIR_A DIR_B [REQUESTS] [WINDOWS]}
b=${2:?usage: $0 DIR_A DIR_B [REQUESTS] [WINDOWS]}
n=${3:-4000}
windows=${4:-6}
for tool in valgrind callgrind_control nginx curl; do command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 2; }; done

work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
b1=$(free_port) b2=$(free_port)
mkdir -p "$work/t"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/t; proxy_temp_path $work/t; fastcgi_temp_path $work/t; uwsgi_temp_path $work/t; scgi_temp_path $work/t;
  server { listen 127.0.0.1:$b1; default_type application/json; location / { return 200 '{"id":"nginx-1","ok":true}\n'; } }
  server { listen 127.0.0.1:$b2; default_type application/json; location / { return 200 '{"id":"nginx-2","ok":true}\n'; } }
}
EOF
nginx -p "$work" -c "$work/nginx.conf"

cat >"$work/drive.mjs" <<'EOF'
import http from 'node:http';
const [port, n] = [Number(process.argv[2]), Number(process.argv[3])];
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let sent = 0;
let done = 0;
await new Promise((resolve, reject) => {
  const one = () => {
    if (sent >= n) return;
    sent++;
    http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => (++done === n ? resolve() : one()));
    }).on('error', reject);
  };
  for (let i = 0; i < 8; i++) one();
});
agent.destroy();
EOF

measure() {
  local dir=$1 tag=$2 port admin out pid vpid
  port=$(free_port) admin=$(free_port) out="$work/cg-$tag.out"
  valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$out" node "$dir/dist/cli/switchyard.js" balancer \
    --host 127.0.0.1 --port "$port" --admin-port "$admin" --backends "a=http://127.0.0.1:$b1,b=http://127.0.0.1:$b2" \
    --log-level warn --no-health-checks >"$work/$tag.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do curl -s -o /dev/null "127.0.0.1:$port/" && break; sleep 0.5; done
  node "$work/drive.mjs" "$port" "$n"
  vpid=$(pgrep -f "callgrind-out-file=$out" | head -1)
  for _ in $(seq "$windows"); do
    callgrind_control -z "$vpid" >/dev/null
    node "$work/drive.mjs" "$port" "$n"
    callgrind_control -d "$vpid" >/dev/null
  done
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
  local counts=()
  for f in $(ls "$out".* | sort -V | head -"$windows"); do counts+=("$(grep -oP 'summary: \K\d+' "$f" | awk -v n="$n" '{printf "%.0f", $1 / n}')"); done
  local median
  median=$(printf '%s\n' "${counts[@]:1}" | sort -n | awk '{v[NR]=$1} END {print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2)}')
  echo "$tag ($dir): instructions per request by window: ${counts[*]}; median after the first: $median"
  echo "$median" >"$work/median-$tag"
}

measure "$a" A
measure "$b" B
awk -v x="$(cat "$work/median-A")" -v y="$(cat "$work/median-B")" 'BEGIN { printf "B / A = %.3f\n", y / x }'
