#!/bin/bash
# Alternated form posts of BIG through two gateways that differ only in the environment variable
# VAR (A=value for one, B=value for the other), against one emulator: each post reports the
# gateway's CPU seconds (/proc/PID/stat around it), wall and peak RSS. The eleventh round ran it
# with a lab build that read hyper's max_buf_size from VAR=LAB_RB.
# usage: BIN=path/to/fastgate BIG=FILE VAR=NAME A=v1 B=v2 [ROUNDS=6] ab-form-env.sh
set -euo pipefail
BIN=${BIN:?}; BIG=${BIG:?}; VAR=${VAR:?}; ROUNDS=${ROUNDS:-6}
W=$(mktemp -d /tmp/ab-XXXX)
. "$(dirname "$0")/pair.sh"
start_emulator --step-delay-ms 110
start_gateway $A $VAR=$A; GA=$GPID; AA=$ADDR
start_gateway $B $VAR=$B; GB=$GPID; AB=$ADDR
post() { local pid=$1 ad=$2 rb=$3; local t0=$(awk '{print $14+$15}' /proc/$pid/stat); local w0=$(date +%s.%N)
  curl -sS -H "Origin: http://$ad" -H 'Accept: application/json' -F "file=@$BIG;type=application/octet-stream" "http://$ad/w/$WS/root?/upload" > $W/r.json
  local w1=$(date +%s.%N); local t1=$(awk '{print $14+$15}' /proc/$pid/stat); grep -q '"stored"' $W/r.json || { echo FAIL; cat $W/r.json; }
  echo "$VAR=$rb cpu=$(echo "scale=2;($t1-$t0)/100"|bc) wall=$(echo "scale=2;($w1-$w0)/1"|bc) hwm=$(grep VmHWM /proc/$pid/status | awk '{print $2}')"
  rm -rf $W/emu/blobs/* 2>/dev/null || true; sync; sleep 1; }
for r in $(seq $ROUNDS); do post $GA $AA $A; post $GB $AB $B; done
kill $GA $GB $EPID; wait 2>/dev/null || true; rm -rf $W
