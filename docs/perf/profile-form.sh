#!/bin/bash
# Profiles the gateway (perf, DWARF call graphs) during one form post of MiB random bytes; the
# emulator and gateway run as their own processes like fastgate-bench runs them. Then:
#   perf script -i OUT.data | python3 docs/perf/symfix.py BIN_DIR/fastgate | inferno-collapse-perf | inferno-flamegraph > OUT.svg
# usage: profile-form.sh BIN_DIR OUT_PREFIX [MiB]
set -euo pipefail
BIN=$1/fastgate; OUT=$2; MIB=${3:-512}; BIG=${BIG:-/tmp/fastgate-prof-$MIB.bin}
W=$(mktemp -d /tmp/prof-XXXX)
[ -f $BIG ] || head -c $((MIB<<20)) /dev/urandom > $BIG
. "$(dirname "$0")/pair.sh"
start_emulator
start_gateway ""
sleep 0.5
T0=$(awk '{print $14+$15}' /proc/$GPID/stat)
perf record -F 1999 -g --call-graph dwarf,16384 -p $GPID -o $OUT.data 2>/dev/null &
PPID2=$!
sleep 0.5
curl -sS -H "Origin: http://$ADDR" -H 'Accept: application/json' -F "file=@$BIG;type=application/octet-stream" "http://$ADDR/w/$WS/root?/upload" > $W/resp.json
kill -INT $PPID2; wait $PPID2 || true
T1=$(awk '{print $14+$15}' /proc/$GPID/stat)
echo "gateway CPU ticks for $MIB MiB: $((T1-T0)) (= $(echo "scale=3; ($T1-$T0)/100*1024/$MIB" | bc) s/GiB)"; head -c 300 $W/resp.json; echo
kill $GPID $EPID; wait 2>/dev/null || true
rm -rf $W
