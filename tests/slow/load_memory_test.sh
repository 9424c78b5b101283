#!/usr/bin/env bash
# Peak resident memory while loading a >= 1 GB checkpoint stays within 1.2x the weight
# bytes plus a fixed overhead (the LibTorch process itself, ~160 MB; allowed: 256 MB).
# Measured by /usr/bin/time -v, as docs/PERFORMANCE.md reports it.
set -euo pipefail
bin=${1:?usage: load_memory_test.sh QUICKSILVER WORKDIR}
work=${2:?}
dir="$work/load_memory_test_ckpt"
rm -rf "$dir"
trap 'rm -rf "$dir"' EXIT
# 318.5M parameters in fp32 = 1.27 GB.
"$bin" model init-random --out "$dir" --arch llada --hidden 1024 --layers 20 --heads 16 --vocab 32000
bytes=$(stat -c %s "$dir/model.safetensors")
out=$(/usr/bin/time -v "$bin" bench load --model "$dir" 2>&1)
echo "$out" | grep -E "loaded|load time|Maximum resident"
rss_kb=$(echo "$out" | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}')
limit_kb=$(( bytes * 12 / 10 / 1024 + 256 * 1024 ))
echo "checkpoint $((bytes / 1024)) KiB, peak RSS ${rss_kb} KiB, limit ${limit_kb} KiB"
if [ "$rss_kb" -gt "$limit_kb" ]; then echo "FAIL: peak RSS above 1.2x weights + 256 MB"; exit 1; fi
echo "ok"
