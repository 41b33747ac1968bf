# bench/commands-rows.sh: rows 17 and 18 of bench/run.sh (sourced by it; uses its helpers).
#
# Row 17 (DESIGN §18): `plan` and `migrate --dry-run` on a database of the whole corpus
# (the last migration pending) while another session holds the migration lock, against
# `psql -c 'select 1'` on the same database: a dry run takes no lock, so it must neither
# wait nor cost more than the no-op gate's budget. Row 18: `migrate --atomic` of the whole
# corpus on a fresh database (one transaction) against the per-file apply, interleaved.
# shellcheck shell=bash disable=SC2154 # SG_BIN, RUNS, CORPUS and the helpers are run.sh's

# The migration lock's key (src/lock.rs): a compatibility contract between releases.
LOCK_KEY=8314604121892153185

# sg_dry DB ARGS...: a dry run of the corpus that must exit 0 (it never waits for the lock)
sg_dry() {
    local db=$1 args
    shift
    mapfile -t args < <(sg_common "$db")
    timeout 60 "$SG_BIN" "$@" --lock-timeout 30s "${args[@]}"
}

suite_dry_run() {
    local db=schemagate_bench_dry up=schemagate_bench_dry_up r holder args logf=$LOG_DIR/dry-run.log
    # the no-op gate on an up-to-date copy, whose lock nobody holds: what every start pays
    fresh_db "$up"
    sg_migrate "$up" --no-backup >>"$logf" 2>&1 || die "applying the corpus failed, see $logf"
    mapfile -t args < <(sg_common "$up")
    fresh_db "$db"
    # every migration but the last: the plan has one step to show, lint and judge
    sg_migrate "$db" --no-backup >>"$logf" 2>&1 || die "applying the corpus failed, see $logf"
    q "$db" "DELETE FROM refinery_schema_history WHERE version = $N_MIG; DROP TABLE bench_t$N_MIG" >/dev/null
    # another session holds the lock for the whole row
    "$PSQL" -X -q -d "$(url_for_db "$db")" \
        -c "SELECT pg_advisory_lock($LOCK_KEY)" -c "SELECT pg_sleep(3600)" >>"$logf" 2>&1 &
    holder=$!
    BG_PIDS+=("$holder")
    local tries=0
    until [[ $(q "$db" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == 1 ]]; do
        ((++tries < 100)) || die "the lock holder never took the lock"
        sleep 0.1
    done
    for ((r = 1; r <= RUNS; r++)); do
        log "row 17: run $r/$RUNS"
        noop_reps dry_plan "$logf" sg_dry "$db" plan || die "plan failed under the held lock, see $logf"
        noop_reps dry_migrate "$logf" sg_dry "$db" migrate --dry-run \
            || die "migrate --dry-run failed under the held lock, see $logf"
        noop_reps dry_psql "$logf" "$PSQL" -X -q -d "$(url_for_db "$db")" -c 'select 1' \
            || die "psql select 1 failed"
        noop_reps dry_noop "$logf" "$SG_BIN" migrate "${args[@]}" || die "no-op migrate failed, see $logf"
    done
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
    drop_db "$db"
    drop_db "$up"
}

suite_atomic() {
    local db=schemagate_bench_atomic r logf=$LOG_DIR/atomic.log
    for ((r = 1; r <= RUNS; r++)); do
        log "row 18: run $r/$RUNS"
        fresh_db "$db"
        timeit "$logf" sg_migrate "$db" --no-backup --atomic || die "migrate --atomic failed, see $logf"
        add_sample atomic_sg "$ELAPSED_US"
        [[ $(history_counts "$db") == "$N_MIG $N_MIG" ]] || die "--atomic did not apply the corpus once"
        fresh_db "$db"
        timeit "$logf" sg_migrate "$db" --no-backup || die "migrate failed, see $logf"
        add_sample atomic_per_file "$ELAPSED_US"
    done
    drop_db "$db"
}

print_commands_rows() {
    if row_on 17; then
        row 17a "\`plan\` of $N_MIG migrations (1 pending) while another session holds the migration lock (mean of $NOOP_REPS calls) vs \`psql -c 'select 1'\`" \
            "$(cell us dry_plan)" "$(cell us dry_psql)" "$(ratio_cell dry_plan dry_psql)" "≤ 1.5×, never waits"
        row 17b "\`migrate --dry-run\`, the same" \
            "$(cell us dry_migrate)" "$(cell us dry_psql)" "$(ratio_cell dry_migrate dry_psql)" "≤ 1.5×, never waits"
        row 17c "the no-op gate (\`migrate\`, up-to-date copy, lock free), same runs, vs \`psql -c 'select 1'\`: what every start of this build pays" \
            "$(cell us dry_noop)" "$(cell us dry_psql)" "$(ratio_cell dry_noop dry_psql)" "≤ 1.5×"
        row 17d "\`plan\` under the held lock vs that no-op gate: what the dry run adds" \
            "$(cell us dry_plan)" "$(cell us dry_noop)" "$(ratio_cell dry_plan dry_noop)" "—"
    fi
    if row_on 18; then
        row 18 "apply $N_MIG fresh in one transaction (\`migrate --atomic --no-backup\`) vs per-file (\`migrate --no-backup\`)" \
            "$(cell us atomic_sg)" "$(cell us atomic_per_file)" "$(ratio_cell atomic_sg atomic_per_file)" "—"
    fi
}
