#!/usr/bin/env bash
# Regenerates the committed corpora, fuzz/corpus/<target>/, from the project's own bytes only
# (own_seeds.py; never ../shared/fixtures): SECONDS_EACH (20) of fuzzing per target from those
# seeds, then a set-cover merge on edge coverage, which keeps a few hundred small inputs per
# target. Run from anywhere after `cargo fuzz build -s none` (RUSTC_BOOTSTRAP=1).
set -euo pipefail
cd "$(dirname "$0")"
bin=target/x86_64-unknown-linux-gnu/release
seconds="${SECONDS_EACH:-20}"
rm -rf work/own work/gen
python3 own_seeds.py work/own
for t in telegram whatsapp max vk avito secrets planner cli_parse; do
  case $t in secrets | planner) len=512 ;; *) len=2048 ;; esac
  mkdir -p "work/gen/$t" "work/own/$t" artifacts
  "$bin/$t" -max_total_time="$seconds" -max_len="$len" -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t-" "work/gen/$t" "work/own/$t" > "work/gen-$t.log" 2>&1
  rm -rf "corpus/$t" && mkdir -p "corpus/$t"
  "$bin/$t" -set_cover_merge=1 -use_counters=0 -use_value_profile=0 -max_len="$len" \
    "corpus/$t" "work/own/$t" "work/gen/$t" > "work/merge-$t.log" 2>&1
  echo "$t: $(find "corpus/$t" -type f | wc -l) inputs, $(du -sb "corpus/$t" | cut -f1) bytes"
done
