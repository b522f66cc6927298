#!/bin/bash
# Alternated form posts of BIG through two gateways that differ only in the environment variable
# VAR (A=value for one, B=value for the other), against one emulator: each post reports the
# gateway's CPU seconds (/proc/PID/stat around it), wall and peak RSS. The eleventh round ran it
# with a lab build that read hyper's max_buf_size from VAR=LAB_RB.
# usage: BIN=path/to/fastgate BIG=FILE VAR=NAME A=v1 B=v2 [ROUNDS=6] ab-form-env.sh
set -euo pipefail
BIN=${BIN:?}; BIG=${BIG:?}; VAR=${VAR:?}; ROUNDS=${ROUNDS:-6}
W=$(mktemp -d /tmp/ab-XXXX)
$BIN emulator --bind 127.0.0.1:0 --data-dir $W/emu --key benchkey --latency-ms 0 --step-delay-ms 110 > $W/emu.out 2>$W/emu.err &
EPID=$!
for i in $(seq 50); do grep -q "seeded workspace" $W/emu.out 2>/dev/null && break; sleep 0.2; done
EURL=$(sed -n 's/^Fast.io emulator listening at //p' $W/emu.out | tr -d '[:space:]'); WS=$(sed -n 's/^seeded workspace: //p' $W/emu.out | tr -d '[:space:]')
case $EURL in */current) ;; *) EURL=${EURL%/}/current;; esac
start_gw() { env $VAR=$1 FASTIO_API_KEY=benchkey FASTIO_BASE_URL=$EURL FASTGATE_BIND=127.0.0.1:0 FASTGATE_DATA_DIR=$W/gw$1 FASTGATE_MAX_FILE_SIZE=2GiB FASTGATE_AUTH=open FASTGATE_LOG_FORMAT=json RUST_LOG=warn,fastgate::server=info $BIN serve > $W/gw$1.out 2>$W/gw$1.err & echo $!; }
GA=$(start_gw $A); GB=$(start_gw $B)
for i in $(seq 50); do grep -q "fastgate listening" $W/gw$A.err 2>/dev/null && grep -q "fastgate listening" $W/gw$B.err 2>/dev/null && break; sleep 0.2; done
addr() { grep "fastgate listening" $W/gw$1.err | sed 's/.*"addr":"\([^"]*\)".*/\1/'; }
AA=$(addr $A); AB=$(addr $B)
post() { local pid=$1 ad=$2 rb=$3; local t0=$(awk '{print $14+$15}' /proc/$pid/stat); local w0=$(date +%s.%N)
  curl -sS -H "Origin: http://$ad" -H 'Accept: application/json' -F "file=@$BIG;type=application/octet-stream" "http://$ad/w/$WS/root?/upload" > $W/r.json
  local w1=$(date +%s.%N); local t1=$(awk '{print $14+$15}' /proc/$pid/stat); grep -q '"stored"' $W/r.json || { echo FAIL; cat $W/r.json; }
  echo "rb=$rb cpu=$(echo "scale=2;($t1-$t0)/100"|bc) wall=$(echo "scale=2;($w1-$w0)/1"|bc) hwm=$(grep VmHWM /proc/$pid/status | awk '{print $2}')"
  rm -rf $W/emu/blobs/* 2>/dev/null || true; sync; sleep 1; }
for r in $(seq $ROUNDS); do post $GA $AA $A; post $GB $AB $B; done
kill $GA $GB $EPID; wait 2>/dev/null || true; rm -rf $W
