# bench/verify-rows.sh: rows 25a and 25b of bench/run.sh (sourced by it; uses its helpers).
#
# Issue 24 item 5 (DESIGN §16, §19): `verify` (every up, down and up again on a scratch
# database, each compared) against `migrate --no-backup` of the same migrations on a fresh
# database, interleaved in the same runs: row 25a on the generated corpus (N migrations of a
# table, an index and three rows, the down dropping the table), row 25b on the realistic
# one (bench/corpus.py realistic: functions, triggers, views, ALTERs, large files).
# Target: verify of N within 3 × migrate of N, the same ratio at any N (linear growth).
# shellcheck shell=bash disable=SC2154 # SG_BIN, RUNS, CORPUS and the helpers are run.sh's

# sg_corpus COMMAND DIR COMPAT DB [flags]: a gate command on the migrations of DIR
sg_corpus() {
    local command=$1 dir=$2 compat=$3 db=$4
    shift 4
    timeout "$CMD_TIMEOUT" "$SG_BIN" "$command" --database-url "$(url_for_db "$db")" \
        --migrations-dir "$dir" --compat "$compat" --backup-dir "$SG_BACKUPS" "$@"
}

suite_verify() {
    local db=schemagate_bench_verify r logf=$LOG_DIR/verify.log real=$TMP_ROOT/verify-realistic
    python3 "$BENCH_DIR/corpus.py" realistic "$real" || die "bench/corpus.py realistic failed"
    for ((r = 1; r <= RUNS; r++)); do
        log "row 25a: run $r/$RUNS"
        fresh_db "$db"
        timeit "$logf" sg_corpus verify "$CORPUS/schemagate" "$CORPUS/compat.toml" "$db" \
            || die "verify of the corpus failed, see $logf"
        add_sample verify_sg "$ELAPSED_US"
        timeit "$logf" sg_corpus migrate "$CORPUS/schemagate" "$CORPUS/compat.toml" "$db" --no-backup \
            || die "migrate of the corpus failed, see $logf"
        add_sample verify_migrate "$ELAPSED_US"
        log "row 25b: run $r/$RUNS"
        fresh_db "$db"
        timeit "$logf" sg_corpus verify "$real/migrations" "$real/compat.toml" "$db" \
            || die "verify of the realistic corpus failed, see $logf"
        add_sample verify_real_sg "$ELAPSED_US"
        timeit "$logf" sg_corpus migrate "$real/migrations" "$real/compat.toml" "$db" --no-backup \
            || die "migrate of the realistic corpus failed, see $logf"
        add_sample verify_real_migrate "$ELAPSED_US"
    done
    drop_db "$db"
}

print_verify_rows() {
    row_on 25 || return 0
    row 25a "\`verify\` of $N_MIG migrations (up, down, up again, each compared) vs \`migrate --no-backup\` of the same $N_MIG on a fresh database" \
        "$(cell us verify_sg)" "$(cell us verify_migrate)" "$(ratio_cell verify_sg verify_migrate)" "≤ 3×"
    row 25b "\`verify\` of the realistic corpus (\`bench/corpus.py realistic\`, 340 migrations) vs its \`migrate --no-backup\`" \
        "$(cell us verify_real_sg)" "$(cell us verify_real_migrate)" "$(ratio_cell verify_real_sg verify_real_migrate)" "≤ 3×"
}
