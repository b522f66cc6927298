# Sourced by the profile and A/B scripts here: starts the emulator and gateways as their own
# processes, the way fastgate-bench runs them. Needs BIN (the fastgate binary) and W (a work dir).

# Starts the emulator; sets EPID, EURL (its API base) and WS (the seeded workspace).
start_emulator() {
  $BIN emulator --bind 127.0.0.1:0 --data-dir $W/emu --key benchkey --latency-ms 0 "$@" > $W/emu.out 2>$W/emu.err &
  EPID=$!
  for i in $(seq 50); do grep -q "seeded workspace" $W/emu.out 2>/dev/null && break; sleep 0.2; done
  EURL=$(sed -n 's/^Fast.io emulator listening at //p' $W/emu.out | tr -d '[:space:]')
  WS=$(sed -n 's/^seeded workspace: //p' $W/emu.out | tr -d '[:space:]')
  case $EURL in */current) ;; *) EURL=${EURL%/}/current;; esac
}

# Starts a gateway named NAME on the emulator, with any VAR=value arguments in its environment;
# sets GPID and ADDR once it listens.
start_gateway() {
  local name=$1; shift
  env "$@" FASTIO_API_KEY=benchkey FASTIO_BASE_URL=$EURL FASTGATE_BIND=127.0.0.1:0 FASTGATE_DATA_DIR=$W/gw$name FASTGATE_MAX_FILE_SIZE=2GiB FASTGATE_AUTH=open FASTGATE_LOG_FORMAT=json RUST_LOG=warn,fastgate::server=info $BIN serve > $W/gw$name.out 2>$W/gw$name.err &
  GPID=$!
  for i in $(seq 50); do grep -q "fastgate listening" $W/gw$name.err 2>/dev/null && break; sleep 0.2; done
  ADDR=$(grep "fastgate listening" $W/gw$name.err | sed 's/.*"addr":"\([^"]*\)".*/\1/')
}
