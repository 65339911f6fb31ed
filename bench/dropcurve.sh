#!/usr/bin/env bash
# Drop curve: Vigil's receive rate and drops at increasing offered loads,
# for the AF_PACKET and the AF_XDP backends in IDS mode.
#
#   make build && sudo bench/dropcurve.sh
#
# Topology, built here and removed on exit (names start with vxa):
#
#   netns vxa-dc-snd: bin/vigil-gen on vxadcs ==veth (2 queues)== vxadcv: bin/vigil in netns vxa-dc-vig
#
# For each backend, bin/vigil runs with the built-in profile (ids-afpacket,
# then ids-afxdp) and a one-second stats interval; after a short warm-up,
# bin/vigil-gen sends the scenario at each offered rate for STEP seconds,
# then at top speed. After each step the script waits until Vigil is idle
# and reads its EVE "stats" record (capture.kernel_packets,
# capture.kernel_drops, flow_bypassed.pkts), the sender's report and the
# interfaces' counters, and prints one row:
#
#   offered pps  the rate asked of vigil-gen ("top": no limit)
#   sent pps     what vigil-gen achieved; sent = frames it sent
#   arrived      frames that reached Vigil's interface (its rx_packets)
#   received     packets Vigil's capture handed to the engine
#   kernel drops packets the socket/ring dropped (capture.kernel_drops)
#   bypassed     packets of bypassed flows the XDP program handled (AF_XDP profile)
#   unaccounted  arrived - received - kernel drops - bypassed (0: every drop is counted)
#   drop %       (arrived - received - bypassed) / arrived
#
# Environment: RATES (default "10k 25k 50k 100k 200k 400k 800k top"), STEP
# (seconds per rate, default 5), BACKENDS (default "afpacket afxdp"),
# SCENARIO (default web-mix), PREBUILD (frames made once and looped,
# default 200000), VIA (the sender's socket, default afpacket: it spreads
# flows over the veth's TX queues and so over both of Vigil's AF_XDP
# queues; vigil-gen --via afxdp sends on one queue), RULES (a rule file;
# default: every ../shared/rules/et-open/*.rules when present, else
# testdata/sample.rules), EXTRA_ARGS (more bin/vigil arguments, such as
# "--set capture.afxdp.busy-poll=no"), OUT (default bench/dropcurve.md;
# empty: do not write), KEEP=1 keeps the work directory with Vigil's logs.
set -euo pipefail
cd "$(dirname "$0")/.."

RATES=${RATES:-"10k 25k 50k 100k 200k 400k 800k top"}
STEP=${STEP:-5}
BACKENDS=${BACKENDS:-"afpacket afxdp"}
SCENARIO=${SCENARIO:-web-mix}
PREBUILD=${PREBUILD:-200000}
VIA=${VIA:-afpacket}
OUT=${OUT-bench/dropcurve.md}
KEEP=${KEEP:-0}
read -r -a extra_args <<<"${EXTRA_ARGS:-}"

SND_NS=vxa-dc-snd VIG_NS=vxa-dc-vig SND_IF=vxadcs VIG_IF=vxadcv

die() { echo "dropcurve: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, AF_PACKET, AF_XDP)"
for b in bin/vigil bin/vigil-gen; do [ -x "$b" ] || die "$b missing: run make build first"; done
for c in ip jq; do command -v "$c" >/dev/null || die "$c not installed"; done

# Rules.
rule_args=()
if [ -n "${RULES:-}" ]; then
  rule_args=(-S "$RULES"); rules_desc="$RULES"
elif compgen -G "../shared/rules/et-open/*.rules" >/dev/null; then
  for f in ../shared/rules/et-open/*.rules; do rule_args+=(-S "$f"); done
  rules_desc="ET Open (../shared/rules/et-open/*.rules, $(ls ../shared/rules/et-open/*.rules | wc -l) files)"
else
  rule_args=(-S testdata/sample.rules); rules_desc="testdata/sample.rules (the bundled sample rules; ET Open not found in ../shared/rules/et-open)"
fi

work=$(mktemp -d /tmp/vxa-dropcurve.XXXXXX)
vigil_pid=
cleanup() {
  if [ -n "$vigil_pid" ] && kill -0 "$vigil_pid" 2>/dev/null; then
    kill -INT "$vigil_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$vigil_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$vigil_pid" 2>/dev/null || true
  fi
  ip netns del "$SND_NS" 2>/dev/null || true
  ip netns del "$VIG_NS" 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then echo "dropcurve: work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Topology. IPv6 off, so that only the generator's frames are on the wire.
for ns in "$SND_NS" "$VIG_NS"; do
  ip netns del "$ns" 2>/dev/null || true
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set dev lo up
done
ip link add "$SND_IF" numtxqueues 2 numrxqueues 2 netns "$SND_NS" type veth \
  peer name "$VIG_IF" numtxqueues 2 numrxqueues 2 netns "$VIG_NS"
ip -n "$SND_NS" link set dev "$SND_IF" up
ip -n "$VIG_NS" link set dev "$VIG_IF" up

# rx_packets of Vigil's interface.
arrived_count() { ip -s -j -n "$VIG_NS" link show dev "$VIG_IF" | jq '.[0].stats64.rx.packets'; }

# The last stats record of eve.json as "kernel_packets kernel_drops bypassed timestamp".
last_stats() {
  local eve=$1 line
  [ -f "$eve" ] || return 1
  line=$(tac "$eve" | grep -m1 '"event_type":"stats"') || true # tac ends on SIGPIPE
  [ -n "$line" ] || return 1
  jq -r '[.stats.capture.kernel_packets, .stats.capture.kernel_drops, (.stats.flow_bypassed.pkts // 0), .timestamp] | @tsv' <<<"$line"
}

# settle waits until two stats records in a row show the same counters
# (Vigil is idle and every bypassed flow's packets are added), and prints
# the last one.
settle() {
  local eve=$1 prev= cur ts pts=
  for _ in $(seq 60); do
    sleep 1.1
    cur=$(last_stats "$eve") || continue
    ts=${cur##*$'\t'}
    if [ -n "$prev" ] && [ "$ts" != "$pts" ] && [ "${cur%$'\t'*}" = "${prev%$'\t'*}" ]; then
      echo "${cur%$'\t'*}"
      return 0
    fi
    prev=$cur pts=$ts
  done
  die "Vigil did not go idle (or wrote no stats) in 66 s; see $eve"
}

machine="$(uname -srm), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(free -g | awk '/^Mem:/ {print $2}') GiB"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "dropcurve: $machine; load average $load0"
echo "dropcurve: rules: $rules_desc"
echo "dropcurve: scenario $SCENARIO (prebuilt $PREBUILD frames), sender vigil-gen --via $VIA, $STEP s per rate"

declare -A table verdict
for backend in $BACKENDS; do
  dir=$work/$backend
  mkdir -p "$dir"
  eve=$dir/eve.json
  echo "dropcurve: starting bin/vigil --profile ids-$backend on $VIG_IF"
  ip netns exec "$VIG_NS" bin/vigil --profile "ids-$backend" -i "$VIG_IF" "${rule_args[@]}" -l "$dir" \
    --set outputs.stats.interval=1s "${extra_args[@]}" >"$dir/vigil.out" 2>&1 &
  vigil_pid=$!
  for _ in $(seq 240); do
    last_stats "$eve" >/dev/null 2>&1 && break
    kill -0 "$vigil_pid" 2>/dev/null || { cat "$dir/vigil.out" >&2; die "bin/vigil exited"; }
    sleep 0.5
  done
  last_stats "$eve" >/dev/null || die "bin/vigil wrote no stats record in 120 s"
  # Warm-up (not recorded): page faults, flow and stream tables.
  ip netns exec "$SND_NS" bin/vigil-gen -i "$SND_IF" --via "$VIA" --scenario "$SCENARIO" --prebuild "$PREBUILD" \
    --pps 10k --duration 3s >/dev/null
  base=$(settle "$eve")
  rows="| offered pps | sent pps | sent | arrived | received | kernel drops | bypassed | unaccounted | drop % | load avg |"$'\n'
  rows+="|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"$'\n'
  first_drop= prev_rate=
  for rate in $RATES; do
    a0=$(arrived_count)
    rep=$dir/report-$rate.json
    pps_args=()
    [ "$rate" = top ] || pps_args=(--pps "$rate")
    ip netns exec "$SND_NS" bin/vigil-gen -i "$SND_IF" --via "$VIA" --scenario "$SCENARIO" --prebuild "$PREBUILD" \
      "${pps_args[@]}" --duration "${STEP}s" --report "$rep" >/dev/null
    load=$(cut -d' ' -f1 /proc/loadavg)
    now=$(settle "$eve")
    a1=$(arrived_count)
    read -r k0 d0 b0 <<<"$base"
    read -r k1 d1 b1 <<<"$now"
    base=$now
    sent=$(jq '.packets' "$rep")
    spps=$(jq '.pps | floor' "$rep")
    arrived=$((a1 - a0))
    drops=$((d1 - d0))
    received=$((k1 - k0 - drops))
    bypassed=$((b1 - b0))
    unacc=$((arrived - received - drops - bypassed))
    pct=$(awk -v a="$arrived" -v r="$received" -v b="$bypassed" 'BEGIN { if (a > 0) printf "%.2f", (a - r - b) * 100 / a; else print "-" }')
    rows+="| $rate | $spps | $sent | $arrived | $received | $drops | $bypassed | $unacc | $pct | $load |"$'\n'
    printf 'dropcurve: %-8s offered %-5s sent %8d pps (%d frames), arrived %d, received %d, kernel drops %d, bypassed %d, unaccounted %d, drop %s%%\n' \
      "$backend" "$rate" "$spps" "$sent" "$arrived" "$received" "$drops" "$bypassed" "$unacc" "$pct"
    if [ -z "$first_drop" ] && awk -v p="$pct" 'BEGIN { exit !(p != "-" && p > 1.0) }'; then
      first_drop="$rate ($spps pps sent, $pct% lost)"
      if [ -n "$prev_rate" ]; then
        verdict[$backend]="starts to drop between $prev_rate and $rate offered: the first step losing more than 1% is $first_drop"
      else
        verdict[$backend]="drops already at the lowest offered rate, $first_drop"
      fi
    fi
    prev_rate=$rate
  done
  [ -n "$first_drop" ] || verdict[$backend]="loses at most 1% at every step, top speed included"
  kill -INT "$vigil_pid"
  wait "$vigil_pid" || true
  vigil_pid=
  table[$backend]=$rows
  echo
  echo "### $backend (bin/vigil --profile ids-$backend)"
  echo
  printf '%s' "$rows"
  echo
  echo "${verdict[$backend]}"
  echo
  grep -E '^vigil: ' "$dir/vigil.out" | grep -v -e '^vigil: rule error' -e '^vigil: events written' | sed 's/^/    /'
  cp "$dir/vigil.out" "$work/vigil-$backend.out"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

[ -n "$OUT" ] || exit 0
{
  echo "# Drop curves: AF_PACKET and AF_XDP (IDS)"
  echo
  echo "Vigil's receive rate and drops at increasing offered loads, written by"
  echo "\`bench/dropcurve.sh\` (it prints the same tables). Measured $started on"
  echo "$machine; $(bin/vigil version 2>&1 | head -1)."
  echo
  echo "**The machine is shared**: other builds and tests ran on its 2 CPUs"
  echo "meanwhile (1/5/15-minute load average $load0 at the start, $load1 at the"
  echo "end; the last column is the 1-minute load average after each step), and"
  echo "the sender, the veth pair and both Vigil workers compete for the same two"
  echo "CPUs. Read the rates as lower bounds for this machine, not capacities."
  echo
  echo "- Command: \`make build && sudo RATES=\"$RATES\" STEP=$STEP${EXTRA_ARGS:+ EXTRA_ARGS=\"$EXTRA_ARGS\"} bench/dropcurve.sh\`"
  echo "- Topology: \`vigil-gen\` in namespace $SND_NS on $SND_IF, a veth pair with 2 queues, \`vigil\` in namespace $VIG_NS on $VIG_IF."
  echo "- Vigil: \`bin/vigil --profile ids-afpacket|ids-afxdp -i $VIG_IF -S RULES --set outputs.stats.interval=1s\` (2 workers; AF_PACKET: fanout over 2 sockets; AF_XDP: one socket per veth queue, copy mode, native XDP, busy polling and XDP flow bypass as the profile sets)."
  echo "- Rules: $rules_desc."
  echo "- Traffic: scenario $SCENARIO (\`vigil-gen --prebuild $PREBUILD\`: the first $PREBUILD frames looped, client addresses moved per loop), sent through $VIA, $STEP s per offered rate after a 3 s warm-up at 10k pps; \"top\" is no rate limit."
  echo "- Columns: *arrived* is the rx_packets growth of Vigil's interface; *received* and *kernel drops* are the growth of capture.kernel_packets - kernel_drops and capture.kernel_drops in Vigil's EVE stats; *bypassed* of flow_bypassed.pkts; *unaccounted* = arrived - received - kernel drops - bypassed; *drop %* = (arrived - received - bypassed) / arrived."
  for backend in $BACKENDS; do
    echo
    echo "## $backend"
    echo
    printf '%s' "${table[$backend]}"
    echo
    echo "The $backend backend ${verdict[$backend]}."
    echo
    echo "Vigil's summary:"
    echo
    grep -E '^vigil: ' "$work/vigil-$backend.out" | grep -v -e '^vigil: rule error' -e '^vigil: events written' | sed 's/^/    /'
  done
} >"$OUT"
echo "dropcurve: wrote $OUT"
