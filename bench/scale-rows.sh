# bench/scale-rows.sh: rows 1b to 1d, 9, 10 and 11 of bench/run.sh (sourced by it; uses its
# helpers).
#
# Issue 12 (DESIGN §11): timestamp-versioned migrations (`20240101000001_t1.up.sql`, the
# sqlx/dbmate/goose style) at two sizes, N and 10 × N, each from a directory and embedded
# in the binary with `embed_catalogue!`. Row 1b: the embedded no-op gate against psql;
# rows 1c and 1d: the same from a directory, timed by this harness and by hyperfine; row 9:
# how the no-op gate grows from N to 10 × N; row 10: applying the N timestamp-versioned
# migrations against psql; row 11: splitting the N-migration corpus with PostgreSQL's
# grammar.
# shellcheck shell=bash disable=SC2154 # NA, SG_BIN, RUNS and the helpers are run.sh's

TS_BASE=20240101000000

# gen_ts_corpus N: $CORPUS/tsN/ (up and down files), $CORPUS/tsN.toml (the window), and
# for N = N_MIG the psql scripts of row 10 (an int8 history, as schemagate keeps).
gen_ts_corpus() {
    local size=$1 dir=$CORPUS/ts$1 n v ps=$CORPUS/psql
    mkdir -p "$dir"
    log "generating $size timestamp-versioned migrations in $dir"
    for ((n = 1; n <= size; n++)); do
        bench_sql "$n"
        v=$((TS_BASE + n))
        printf '%s' "$UP" >"$dir/${v}_t$n.up.sql"
        printf '%s' "$DOWN" >"$dir/${v}_t$n.down.sql"
    done
    printf '[app]\nversion = "1.0.0"\n\n[schema]\nmin = %d\nmax = %d\n' \
        $((TS_BASE + 1)) $((TS_BASE + size)) >"$CORPUS/ts$size.toml"
    ((size == N_MIG)) || return 0
    {
        printf '\\set ON_ERROR_STOP 1\n'
        printf 'CREATE TABLE bench_history (version int8 PRIMARY KEY, name text NOT NULL, applied_on timestamptz NOT NULL DEFAULT now());\n'
        for ((n = 1; n <= size; n++)); do
            v=$((TS_BASE + n))
            printf 'BEGIN;\n\\i %s\nINSERT INTO bench_history (version, name) VALUES (%d, %s);\nCOMMIT;\n' \
                "$dir/${v}_t$n.up.sql" "$v" "'t$n'"
        done
    } >"$ps/apply_ts_per_file.sql"
    cat "$dir"/*.up.sql >"$ps/apply_ts_concat.sql"
}

ts_flags() { # DB SIZE: the gate's flags with the directory of SIZE migrations
    printf '%s\n' --database-url "$(url_for_db "$1")" --migrations-dir "$CORPUS/ts$2" \
        --compat "$CORPUS/ts$2.toml" --backup-dir "$SG_BACKUPS"
}
ts_embedded_flags() { # DB: the embedded binary's flags (its migrations and window built in)
    printf '%s\n' --database-url "$(url_for_db "$1")" --backup-dir "$SG_BACKUPS"
}

# build_embedded_corpus NAME DIR COMPAT: schemagate with DIR as its `migrations/` and COMPAT
# as its window, built from a copy of this tree, into $TMP_ROOT/schemagate-embedded-NAME;
# NA[embedded_NAME] says why when the build fails. The copy lives in the target directory
# and keeps the files' times, so the next run rebuilds only what changed.
build_embedded_corpus() {
    local name=$1 src=$TARGET_DIR/embedded-src-$1 logf=$LOG_DIR/build-embedded-$1.log
    rm -rf "$src"
    mkdir -p "$src"
    tar -C "$REPO_DIR" --exclude=./.git --exclude=./target --exclude=./bench/.target \
        --exclude=./bench/.last-run -c . | tar -C "$src" -x
    rm -rf "$src/migrations"
    cp -r "$2" "$src/migrations"
    cp "$3" "$src/compat.toml"
    log "building schemagate with the $name corpus embedded"
    if (cd "$src" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --locked --release --bin schemagate) \
        >"$logf" 2>&1; then
        cp "$TARGET_DIR/release/schemagate" "$TMP_ROOT/schemagate-embedded-$name"
    else
        NA[embedded_$name]="n/a (build failed, see bench/.last-run/$(basename "$logf"))"
    fi
}

# build_ts_embedded SIZE: the SIZE-migration timestamp corpus embedded, into
# $TMP_ROOT/schemagate-embedded-SIZE.
build_ts_embedded() {
    build_embedded_corpus "$1" "$CORPUS/ts$1" "$CORPUS/ts$1.toml"
}

# migrate_ts DB SIZE: DB fresh and migrated to the SIZE corpus (once, before the runs)
migrate_ts() {
    local args logf=$LOG_DIR/scale.log
    fresh_db "$1"
    mapfile -t args < <(ts_flags "$1" "$2")
    timeit "$logf" "$SG_BIN" migrate --no-backup "${args[@]}" || die "applying the $2 timestamp migrations failed, see $logf"
    log "applied $2 timestamp-versioned migrations in $(fmt_us "$ELAPSED_US")"
}

# Rows 1b to 1d and 9: the no-op gate at N and 10 × N, from a directory and embedded.
suite_scale() {
    local large=$((N_MIG * 10)) small_db=schemagate_bench_ts_small large_db=schemagate_bench_ts_large
    local r logf=$LOG_DIR/scale.log dir_s emb_s dir_l emb_l
    # The embedded builds write $TARGET_DIR/release/schemagate: keep the binary under test.
    cp "$SG_BIN" "$TMP_ROOT/schemagate"
    SG_BIN=$TMP_ROOT/schemagate
    gen_ts_corpus "$N_MIG"
    build_ts_embedded "$N_MIG"
    migrate_ts "$small_db" "$N_MIG"
    if row_on 9; then
        gen_ts_corpus "$large"
        build_ts_embedded "$large"
        migrate_ts "$large_db" "$large"
    fi
    [[ -z ${NA[embedded_$N_MIG]:-}${NA[embedded_$large]:-} ]] || return 0
    mapfile -t dir_s < <(ts_flags "$small_db" "$N_MIG")
    mapfile -t emb_s < <(ts_embedded_flags "$small_db")
    mapfile -t dir_l < <(ts_flags "$large_db" "$large")
    mapfile -t emb_l < <(ts_embedded_flags "$large_db")
    for ((r = 1; r <= RUNS; r++)); do
        log "rows 1b, 9: run $r/$RUNS"
        noop_reps ts_dir_s "$logf" "$SG_BIN" migrate "${dir_s[@]}" || die "no-op migrate failed, see $logf"
        noop_reps ts_psql "$logf" "$PSQL" -X -q -d "$(url_for_db "$small_db")" -c 'select 1' || die "psql failed"
        noop_reps ts_emb_s "$logf" "$TMP_ROOT/schemagate-embedded-$N_MIG" migrate "${emb_s[@]}" \
            || die "embedded no-op migrate failed, see $logf"
        row_on 9 || continue
        noop_reps ts_dir_l "$logf" "$SG_BIN" migrate "${dir_l[@]}" || die "no-op migrate failed, see $logf"
        noop_reps ts_emb_l "$logf" "$TMP_ROOT/schemagate-embedded-$large" migrate "${emb_l[@]}" \
            || die "embedded no-op migrate failed, see $logf"
    done
    if row_on 1; then hyperfine_check "$small_db" "${dir_s[@]}"; fi
    [[ -n $(find "$SG_BACKUPS" -name '*.dump' -print -quit) ]] && NOTE[scale_backup]=1
    drop_db "$small_db"
    if row_on 9; then drop_db "$large_db"; fi
}

# hyperfine_check DB FLAGS...: row 1d, the same no-op gate and psql timed by hyperfine (no
# shell, 3 warm-ups, 10 × RUNS runs, medians), to check the harness against it.
hyperfine_check() {
    local db=$1 json=$LOG_DIR/hyperfine-noop.json
    shift
    if ! command -v hyperfine >/dev/null; then
        NA[hyperfine]="n/a (hyperfine is not on PATH)"
        return
    fi
    log "row 1d: hyperfine"
    hyperfine -N --warmup 3 --runs $((RUNS * 10)) --export-json "$json" \
        "$SG_BIN migrate $*" "$PSQL -X -q -d $(url_for_db "$db") -c 'select 1'" \
        >>"$LOG_DIR/hyperfine.log" 2>&1 || die "hyperfine failed, see bench/.last-run/hyperfine.log"
    # its medians in microseconds, schemagate's then psql's
    local medians
    mapfile -t medians < <(python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]: print(round(r["median"] * 1e6))' "$json")
    add_sample hf_sg "${medians[0]}"
    add_sample hf_psql "${medians[1]}"
}

# Row 10: the N timestamp-versioned migrations applied to an empty database, against psql
# running the same files (one transaction and history row each; and the concatenation).
suite_ts_apply() {
    local r db args logf=$LOG_DIR/ts-apply.log
    [[ -d $CORPUS/ts$N_MIG ]] || gen_ts_corpus "$N_MIG"
    for ((r = 1; r <= RUNS; r++)); do
        log "row 10: run $r/$RUNS"
        db=schemagate_bench_ts_apply
        fresh_db "$db"
        mapfile -t args < <(ts_flags "$db" "$N_MIG")
        timeit "$logf" "$SG_BIN" migrate --no-backup "${args[@]}" || die "schemagate apply failed, see $logf"
        add_sample ts_apply_sg "$ELAPSED_US"
        check_applied "$db" schemagate-ts "$(history_counts "$db")"
        fresh_db "$db"
        timeit "$logf" psql_file "$db" "$CORPUS/psql/apply_ts_per_file.sql" || die "psql apply failed, see $logf"
        add_sample ts_apply_psql "$ELAPSED_US"
        check_applied "$db" psql-ts "$(history_counts "$db" bench_history)"
        fresh_db "$db"
        timeit "$logf" psql_file "$db" "$CORPUS/psql/apply_ts_concat.sql" -1 || die "psql -1 apply failed, see $logf"
        add_sample ts_apply_concat "$ELAPSED_US"
        check_applied "$db" psql-ts-1
        drop_db "$db"
    done
}

# Row 11: the splitter's benchmark (src/postgres/sql/bench.rs, an ignored test of the lib run
# on a release build) over the N-file corpus, once per run (each its own median of 30
# passes, alternating with libpg_query's split_with_parser).
suite_split() {
    local r out logf=$LOG_DIR/split.log
    [[ -d $CORPUS/ts$N_MIG ]] || gen_ts_corpus "$N_MIG"
    log "row 11: building the splitter's benchmark"
    if ! lib_bench --no-run >"$logf" 2>&1; then
        NA[split]="n/a (build failed, see bench/.last-run/split.log)"
        return
    fi
    for ((r = 1; r <= RUNS; r++)); do
        log "row 11: run $r/$RUNS"
        out=$(SCHEMAGATE_BENCH_DIR=$CORPUS/ts$N_MIG SCHEMAGATE_BENCH_PASSES=30 \
            lib_bench postgres::sql::bench::split_every_file_of_the_directory 2>>"$logf") \
            || die "the splitter's benchmark failed, see $logf"
        [[ $out =~ statements=([0-9]+)\ split_us=([0-9]+)\ floor_us=([0-9]+) ]] || die "unexpected output of the splitter's benchmark: $out"
        SPLIT_STATEMENTS=${BASH_REMATCH[1]}
        add_sample split_sg "${BASH_REMATCH[2]}"
        add_sample split_floor "${BASH_REMATCH[3]}"
    done
}
SPLIT_STATEMENTS=""

# print_scale_rows 1 | 9: rows 1b to 1d (after row 1), or rows 9 to 11
print_scale_rows() {
    local large=$((N_MIG * 10)) nb=""
    [[ -z ${NOTE[scale_backup]:-} ]] || nb=" **(took a backup!)**"
    if [[ $1 == 1 ]]; then
        row_on 1 || return 0
        row 1b "no-op gate with $N_MIG timestamp-versioned migrations embedded (mean of $NOOP_REPS calls) vs \`psql -c 'select 1'\`$nb" \
            "$(cell us ts_emb_s embedded)" "$(cell us ts_psql)" "$(ratio_cell ts_emb_s ts_psql)" "≤ 1.5×"
        row 1c "no-op gate from a directory of $N_MIG timestamp-versioned migrations (mean of $NOOP_REPS calls) vs \`psql -c 'select 1'\`, this harness" \
            "$(cell us ts_dir_s embedded)" "$(cell us ts_psql)" "$(ratio_cell ts_dir_s ts_psql)" "≤ 1.5×"
        row 1d "the same two commands timed by hyperfine in the same run (-N, 3 warm-ups, medians of $((RUNS * 10)))" \
            "$(cell us hf_sg hyperfine)" "$(cell us hf_psql hyperfine)" "$(ratio_cell hf_sg hf_psql)" "≤ 1.5×"
        return
    fi
    if row_on 9; then
        row 9a "no-op gate, $large vs $N_MIG timestamp-versioned migrations from a directory (mean of $NOOP_REPS calls)$nb" \
            "$(cell us ts_dir_l embedded)" "$(cell us ts_dir_s embedded)" "$(ratio_cell ts_dir_l ts_dir_s)" "≤ 3×"
        row 9b "no-op gate, $large vs $N_MIG timestamp-versioned migrations embedded (mean of $NOOP_REPS calls)" \
            "$(cell us ts_emb_l embedded)" "$(cell us ts_emb_s embedded)" "$(ratio_cell ts_emb_l ts_emb_s)" "≤ 3×"
    fi
    if row_on 10; then
        row 10a "apply $N_MIG timestamp-versioned migrations fresh (\`migrate --no-backup\`) vs \`psql\`, one transaction + history row per file" \
            "$(cell us ts_apply_sg)" "$(cell us ts_apply_psql)" "$(ratio_cell ts_apply_sg ts_apply_psql)" "≤ 1.03×"
        row 10b "the same vs \`psql -1\` of the concatenation (floor)" \
            "$(cell us ts_apply_sg)" "$(cell us ts_apply_concat)" "$(ratio_cell ts_apply_sg ts_apply_concat)" "—"
    fi
    if row_on 11; then
        row 11 "split the $N_MIG-migration corpus ($((N_MIG * 2)) files) into statements (${SPLIT_STATEMENTS:-?} statements; \`split_statements\`, median of 30 passes) vs libpg_query's \`split_with_parser\`" \
            "$(cell us split_sg split)" "$(cell us split_floor split)" "$(ratio_cell split_sg split_floor)" "—"
    fi
}
