#!/usr/bin/env bash
# Whole-engine benchmark: run bin/vigil on a pcap with a ruleset and print
# packets/s, bits/s, startup time and peak memory (the engine measures them
# itself and prints them in its summary).
#
#   bench/run.sh [PCAP] [RULES]
#
# Without PCAP, a generated capture (tools/samplegen -copies 5000, about
# 330,000 packets of the sample traffic as distinct flows) is made in out/.
set -euo pipefail
cd "$(dirname "$0")/.."
pcap=${1:-}
rules=${2:-testdata/sample.rules}
if [ -z "$pcap" ]; then
  pcap=out/bench-sample-5000.pcap
  if [ ! -f "$pcap" ]; then
    mkdir -p out
    echo "bench: generating $pcap"
    go run ./tools/samplegen -copies 5000 -o "$pcap"
  fi
fi
[ -x bin/vigil ] || go build -o bin/vigil ./cmd/vigil
mkdir -p out/bench
echo "bench: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "bench: bin/vigil -S $rules -r $pcap"
bin/vigil -S "$rules" -r "$pcap" -l out/bench | grep -E '^vigil: '
