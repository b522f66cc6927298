#!/bin/bash
# Profiles the gateway (flat perf) during one JSON-API upload of BIG, sent as the browser sends
# it: the ticket's chunks, three at a time, each PUT with its Content-Digest, then complete. The
# emulator and gateway run as their own processes like fastgate-bench runs them. Then:
#   perf report -i OUT.data --no-children --sort sym --stdio
# usage: BIG=FILE profile-js.sh BIN_DIR OUT_PREFIX   (PERFARGS="--call-graph dwarf,16384" for callers,
#        NOPERF=1 for the CPU figure alone)
set -euo pipefail
BIN=$1/fastgate; OUT=$2; BIG=${BIG:?BIG=a file to upload}
W=$(mktemp -d /tmp/prof-XXXX)
. "$(dirname "$0")/pair.sh"
start_emulator
start_gateway ""
SIZE=$(stat -c %s $BIG)
T=$(curl -sS -H "Origin: http://$ADDR" -H 'Content-Type: application/json' -d "{\"workspace\":\"$WS\",\"folder\":\"root\",\"name\":\"js.bin\",\"size\":$SIZE}" http://$ADDR/api/uploads)
ID=$(echo "$T" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])'); TOK=$(echo "$T" | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])'); CH=$(echo "$T" | python3 -c 'import json,sys;print(json.load(sys.stdin)["chunk_size"])')
N=$(( (SIZE + CH - 1) / CH ))
mkdir $W/c; split -b $CH -d -a 4 $BIG $W/c/p
for f in $W/c/p*; do openssl dgst -sha256 -binary $f | base64 > $f.d; done
sleep 0.3
T0=$(awk '{print $14+$15}' /proc/$GPID/stat)
[ -n "${NOPERF:-}" ] || { perf record -F 1999 ${PERFARGS:-} -p $GPID -o $OUT.data 2>/dev/null & }
PP=$!
sleep 0.5
W0=$(date +%s.%N)
cat > $W/put.sh <<EOS
#!/bin/sh
f=\$(printf "%s/c/p%04d" $W \$((\$1-1)))
curl -sS -o /dev/null -f -X PUT -H "content-digest: sha-256=:\$(cat \$f.d):" -H "Origin: http://$ADDR" -H "upload-token: $TOK" --data-binary @\$f http://$ADDR/api/uploads/$ID/chunks/\$1
EOS
seq 1 $N | xargs -P 3 -n 1 sh $W/put.sh
R=$(curl -sS -X POST -H "Origin: http://$ADDR" -H "upload-token: $TOK" http://$ADDR/api/uploads/$ID/complete)
W1=$(date +%s.%N)
[ -n "${NOPERF:-}" ] || { kill -INT $PP; wait $PP || true; }
T1=$(awk '{print $14+$15}' /proc/$GPID/stat)
echo "JS: gateway CPU ticks $((T1-T0)) = $(echo "scale=3; ($T1-$T0)/100*1073741824/$SIZE" | bc) s/GiB, wall $(echo "$W1-$W0"|bc)"; echo "$R" | head -c 300; echo
kill $GPID $EPID; wait 2>/dev/null || true
rm -rf $W
