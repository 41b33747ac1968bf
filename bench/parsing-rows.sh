# bench/parsing-rows.sh: rows 21 and 22 of bench/run.sh (sourced by it; uses its helpers).
#
# Row 21 (issue 21 item 8): the no-op gate on a realistic migration history (bench/corpus.py
# realistic: 340 migrations, about 1 MB of SQL with functions in dollar quotes, triggers,
# views and large files) against `psql -c 'select 1'`, from a directory and embedded. The
# small generated corpus is rows 1 and 1b.
# Row 22 (issue 22 item 4): peak RSS (`/usr/bin/time`, maximum resident set) of `check` and
# of the gate reading one data (no-transaction INSERTs) or DDL (transactional CREATE OR
# REPLACE VIEW) migration of 1, 5 and 20 MB (bench/corpus.py bulk), against the size of
# that SQL: `migrate` for data; `plan` for DDL, which reads and lints the file as `migrate`
# does and stops before the change (PostgreSQL takes minutes to replace a view 30,000
# times, which is not the gate's memory). Run it with `--schemagate-bin` of an older build for the
# figures before a change.
# shellcheck shell=bash disable=SC2153,SC2154 # NA, SG_BIN, RUNS, REPO_DIR and the helpers are run.sh's

REAL_DIR=""
# Rows 21a and 21b.
suite_realistic() {
    local db=schemagate_bench_realistic r logf=$LOG_DIR/realistic.log dir emb
    REAL_DIR=$TMP_ROOT/realistic
    python3 "$BENCH_DIR/corpus.py" realistic "$REAL_DIR" || die "bench/corpus.py realistic failed"
    # The embedded build writes $TARGET_DIR/release/schemagate: keep the binary under test.
    cp "$SG_BIN" "$TMP_ROOT/schemagate-realistic-dir"
    build_embedded_corpus realistic "$REAL_DIR/migrations" "$REAL_DIR/compat.toml"
    fresh_db "$db"
    dir=(--database-url "$(url_for_db "$db")" --migrations-dir "$REAL_DIR/migrations"
        --compat "$REAL_DIR/compat.toml" --backup-dir "$SG_BACKUPS")
    emb=(--database-url "$(url_for_db "$db")" --backup-dir "$SG_BACKUPS")
    timeit "$logf" "$TMP_ROOT/schemagate-realistic-dir" migrate --no-backup "${dir[@]}" \
        || die "applying the realistic corpus failed, see $logf"
    log "applied the realistic corpus in $(fmt_us "$ELAPSED_US")"
    for ((r = 1; r <= RUNS; r++)); do
        log "row 21: run $r/$RUNS"
        noop_reps real_dir "$logf" "$TMP_ROOT/schemagate-realistic-dir" migrate "${dir[@]}" \
            || die "no-op migrate failed, see $logf"
        noop_reps real_psql "$logf" "$PSQL" -X -q -d "$(url_for_db "$db")" -c 'select 1' || die "psql failed"
        if [[ -z ${NA[embedded_realistic]:-} ]]; then
            noop_reps real_emb "$logf" "$TMP_ROOT/schemagate-embedded-realistic" migrate "${emb[@]}" \
                || die "embedded no-op migrate failed, see $logf"
        fi
    done
    drop_db "$db"
}

# peak_rss KEY LOGFILE CMD...: CMD under /usr/bin/time, its maximum resident set (KiB)
# recorded under KEY; returns CMD's status.
peak_rss() {
    local key=$1 logf=$2 out rc=0
    shift 2
    out=$TMP_ROOT/time.out
    printf '$ %s\n' "$*" >>"$logf"
    /usr/bin/time -f '%M' -o "$out" "$@" >>"$logf" 2>&1 || rc=$?
    add_sample "$key" "$(tail -1 "$out")"
    return "$rc"
}

MEM_SIZES=(1 5 20)
# Row 22: each kind and size, fresh database each run: `check` (the database at version 1,
# the file pending), then `migrate --no-backup` applying it (data) or `plan` (DDL).
suite_memory() {
    local kind mb r dir db=schemagate_bench_memory logf=$LOG_DIR/memory.log args runs=$((RUNS < 3 ? RUNS : 3))
    [[ -x /usr/bin/time ]] || {
        NA[memory]="n/a (/usr/bin/time is not installed)"
        return
    }
    for kind in data ddl; do
        for mb in "${MEM_SIZES[@]}"; do
            dir=$TMP_ROOT/memory-$kind-$mb
            python3 "$BENCH_DIR/corpus.py" bulk "$dir" "$kind" "$mb" || die "bench/corpus.py bulk failed"
            add_sample "mem_sql_${kind}_$mb" $((mb * 1024))
            for ((r = 1; r <= runs; r++)); do
                log "row 22: $kind $mb MB, run $r/$runs"
                fresh_db "$db"
                args=(--database-url "$(url_for_db "$db")" --migrations-dir "$dir/migrations"
                    --compat "$dir/compat.toml" --backup-dir "$SG_BACKUPS")
                # version 1 applied, so that `check` judges a database with the file pending
                printf '[app]\nversion = "0.9.0"\n\n[schema]\nmin = 1\nmax = 1\n' >"$dir/first.toml"
                "$SG_BIN" migrate --no-backup "${args[@]:0:4}" --compat "$dir/first.toml" \
                    --backup-dir "$SG_BACKUPS" >>"$logf" 2>&1 || die "applying version 1 failed, see $logf"
                # `check` refuses (exit 3: the schema is below the window), having read everything
                peak_rss "mem_check_${kind}_$mb" "$logf" "$SG_BIN" check "${args[@]}" || true
                peak_rss "mem_gate_${kind}_$mb" "$logf" "$SG_BIN" "$(gate_command "$kind")" --no-backup "${args[@]}" \
                    || NA[mem_${kind}_$mb]="n/a ($(gate_command "$kind") failed, see bench/.last-run/memory.log)"
            done
            rm -rf "$dir"
        done
    done
    drop_db "$db"
}

gate_command() { # KIND: the gate command row 22 measures for KIND
    if [[ $1 == data ]]; then echo migrate; else echo plan; fi
}

print_parsing_rows() {
    local kind mb command shown what letters=(a b c d e f g h i j k l) i=0
    if row_on 21; then
        row 21a "no-op gate on a realistic history, 340 migrations and 1 MB of SQL (functions, triggers, views, large files) from a directory (mean of $NOOP_REPS calls) vs \`psql -c 'select 1'\`" \
            "$(cell us real_dir)" "$(cell us real_psql)" "$(ratio_cell real_dir real_psql)" "≤ 1.5×"
        row 21b "the same history embedded (\`embed_catalogue!\`) vs \`psql -c 'select 1'\`" \
            "$(cell us real_emb embedded_realistic)" "$(cell us real_psql)" "$(ratio_cell real_emb real_psql)" "≤ 1.5×"
    fi
    row_on 22 || return 0
    for kind in data ddl; do
        what="CREATE OR REPLACE VIEW statements"
        [[ $kind == ddl ]] || what="no-transaction, INSERTs of 500 rows"
        for mb in "${MEM_SIZES[@]}"; do
            for command in check gate; do
                shown=check
                [[ $command == check ]] || shown=$(gate_command "$kind")
                row "22${letters[i++]}" "peak RSS of \`$shown\` gating one $mb MB $kind migration ($what) vs the size of its SQL" \
                    "$(cell kb "mem_${command}_${kind}_$mb" "mem_${kind}_$mb")" "$(cell kb "mem_sql_${kind}_$mb")" \
                    "$(ratio_cell "mem_${command}_${kind}_$mb" "mem_sql_${kind}_$mb")" "a small multiple, flat per MB"
            done
        done
    done
}
