#!/usr/bin/env bash
# `schemagate backup` against plain `pg_dump -Fc` of the same database, interleaved,
# medians of N runs (DESIGN §9: target ≤ 1.05×). Loads `pgbench -i -s SCALE` first unless
# the database already has pgbench_accounts.
#   bench/backup.sh [RUNS=5] [SCALE=50]
# Needs a release build (cargo build --release) and the server of TEST_DATABASE_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scale=${2:-50}
server=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=sg_bench_backup
url="${server%/*}/$db"
major=$(psql "$server" -Atc 'SHOW server_version_num' | cut -c1-2)
pg_dump=/usr/lib/postgresql/$major/bin/pg_dump
bin=target/release/schemagate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql "$server" -qc "CREATE DATABASE $db" 2>/dev/null || true
if ! psql "$url" -Atc 'SELECT 1 FROM pgbench_accounts LIMIT 1' >/dev/null 2>&1; then
  pgbench -i -s "$scale" -q "$url"
fi
echo "database $(psql "$url" -Atc "SELECT pg_size_pretty(pg_database_size('$db'))")"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: >"$work/plain" ; : >"$work/gate"
for i in $(seq 1 "$runs"); do
  t=$(now); "$pg_dump" -Fc -f "$work/plain.dump" "$url"; echo "$(now) - $t" | bc >>"$work/plain"
  t=$(now)
  "$bin" backup --database-url "$url" --backup-dir "$work/backups" --backup-keep 1 >/dev/null 2>"$work/log"
  echo "$(now) - $t" | bc >>"$work/gate"
  rm -f "$work/plain.dump"
  echo "run $i: pg_dump $(tail -1 "$work/plain") s, schemagate $(tail -1 "$work/gate") s"
done
p=$(median <"$work/plain"); g=$(median <"$work/gate")
echo "dump size $(du -h "$work"/backups/*.dump | tail -1 | cut -f1)"
printf 'median: pg_dump -Fc %.3f s, schemagate backup %.3f s, ratio %.3f\n' "$p" "$g" "$(echo "$g / $p" | bc -l)"
