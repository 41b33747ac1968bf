# bench/drift-rows.sh: row 24 of bench/run.sh (sourced by it; uses its helpers).
#
# Row 24 (DESIGN §19): the drift check on a generated schema of 2,000 objects, as a whole
# `diff` process (24a) and inside `serve` on its open connection (24c, read from the
# replica's own metric), and what checking every second costs /health (24b).
# shellcheck shell=bash disable=SC2154 # NA, SG_BIN, RUNS, PSQL and the helpers are run.sh's

DRIFT_TABLES=250 # 8 objects each (table, 4 columns, primary key and its index, an index)
DRIFT_SCRAPES=10 # 24c: scrapes of the in-serve check's duration per run, a second apart

# A project of one migration making the schema: DIR gets migrations/ and compat.toml.
drift_project() { # DIR
    mkdir -p "$1/migrations"
    printf '[app]\nversion = "1.0.0"\n[schema]\nmin = 1\nmax = 1\n' >"$1/compat.toml"
    {
        for ((i = 1; i <= DRIFT_TABLES; i++)); do
            printf 'CREATE TABLE d%d (id bigint PRIMARY KEY, name text NOT NULL, n int DEFAULT 0, at timestamptz);\n' "$i"
            printf 'CREATE INDEX d%d_name ON d%d (name);\n' "$i" "$i"
        done
    } >"$1/migrations/V1__schema.sql"
    printf 'SELECT 1;\n' >"$1/migrations/V1__schema.down.sql"
}

drift_flags() { # DB DIR
    printf '%s\n' --database-url "$(url_for_db "$1")" --migrations-dir "$2/migrations" \
        --compat "$2/compat.toml" --backup-dir "$SG_BACKUPS" --no-backup
}

# 24c: the last drift check's duration as the replica on PORT reports it
# (`schemagate_schema_drift_check_seconds`), scraped DRIFT_SCRAPES times a second apart with
# the check running every second; the mean, in microseconds, is one sample.
drift_check_us() { # PORT
    local i v total=0
    for ((i = 0; i < DRIFT_SCRAPES; i++)); do
        sleep 1
        v=$(curl -s "http://127.0.0.1:$1/metrics" |
            awk '$1 == "schemagate_schema_drift_check_seconds" { printf "%.0f", $2 * 1e6 }')
        [[ -n $v && $v != 0 ]] || return 1
        total=$((total + v))
    done
    add_sample drift_serve $((total / DRIFT_SCRAPES))
}

suite_drift() {
    local db=schemagate_bench_drift dir=$LOG_DIR/drift-project r args objects logf=$LOG_DIR/drift.log
    local on_port off_port on_pid off_pid
    rm -rf "$dir"
    drift_project "$dir"
    fresh_db "$db"
    mapfile -t args < <(drift_flags "$db" "$dir")
    "$SG_BIN" migrate "${args[@]}" >>"$logf" 2>&1 || die "the drift schema's migration failed, see $logf"
    objects=$(q "$db" "SELECT json_array_length(description::json) FROM schemagate_schema ORDER BY id DESC LIMIT 1")
    NOTE[drift_objects]=$objects
    for ((r = 1; r <= RUNS; r++)); do
        log "row 24a: run $r/$RUNS"
        noop_reps drift_diff "$logf" "$SG_BIN" diff "${args[@]}" || die "diff found drift or failed, see $logf"
        noop_reps drift_psql "$logf" "$PSQL" -X -q -d "$(url_for_db "$db")" -c 'select 1' || die "psql select 1 failed"
    done
    # 24b: two replicas of the same database, one checking every second, one never.
    on_port=$(free_port $((HTTP_PORT + 50)))
    off_port=$(free_port $((HTTP_PORT + 60)))
    "$SG_BIN" serve --listen "127.0.0.1:$on_port" --drift-interval 1s "${args[@]}" >>"$logf" 2>&1 &
    on_pid=$!
    "$SG_BIN" serve --listen "127.0.0.1:$off_port" --drift-interval 0 "${args[@]}" >>"$logf" 2>&1 &
    off_pid=$!
    BG_PIDS+=("$on_pid" "$off_pid")
    wait_http "http://127.0.0.1:$on_port/health" "$on_pid" 60 || die "serve did not start"
    wait_http "http://127.0.0.1:$off_port/health" "$off_pid" 60 || die "serve did not start"
    for ((r = 1; r <= RUNS; r++)); do
        log "rows 24b, 24c: run $r/$RUNS"
        drift_check_us "$on_port" || die "serve reported no drift check duration"
        run_wrk drift_on "http://127.0.0.1:$on_port/health"
        run_wrk drift_off "http://127.0.0.1:$off_port/health"
    done
    curl -s "http://127.0.0.1:$on_port/health" >"$LOG_DIR/health-drift.json" || true
    kill "$on_pid" "$off_pid" 2>/dev/null || true
    wait "$on_pid" "$off_pid" 2>/dev/null || true
    drop_db "$db"
}

print_drift_rows() {
    row_on 24 || return 0
    row 24a "drift check as a whole process (\`schemagate diff\`: start, connect, describe ${NOTE[drift_objects]:-?} objects, read the record, compare, exit; mean of $NOOP_REPS calls) vs \`psql -c 'select 1'\`" \
        "$(cell us drift_diff)" "$(cell us drift_psql)" "$(ratio_cell drift_diff drift_psql)" "≤ 100 ms"
    row 24b "\`/health\` throughput while drift checks run every second (\`--drift-interval 1s\`) vs off (\`0\`), wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION" \
        "$(cell rps drift_on_rps)" "$(cell rps drift_off_rps)" "$(ratio_cell drift_on_rps drift_off_rps)" "≥ 0.95×"
    row 24c "drift check inside \`serve\` (describe, read the record, compare on the refresh's open connection; \`schemagate_schema_drift_check_seconds\` scraped $DRIFT_SCRAPES times at \`--drift-interval 1s\`, mean) vs \`psql -c 'select 1'\`" \
        "$(cell us drift_serve)" "$(cell us drift_psql)" "$(ratio_cell drift_serve drift_psql)" "≤ 100 ms"
}
