# bench/library-rows.sh: rows 14 and 16 of bench/run.sh (sourced by it; uses its helpers).
#
# Row 14 (DESIGN §13): examples/embedded, the gate inside an application, against the
# binary on the same database. Row 16 (DESIGN §14): what the fleet adds to the no-op gate,
# to /health and to one background refresh.
# shellcheck shell=bash disable=SC2154 # NA, SG_BIN, RUNS and the helpers are run.sh's

EMBED_BIN=""
build_embedded_example() {
    log "building examples/embedded (release)"
    if (cd "$REPO_DIR" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --example embedded) \
        >"$LOG_DIR/build-embedded.log" 2>&1; then
        EMBED_BIN=$TARGET_DIR/release/examples/embedded
    else
        NA[embed]="n/a (build failed, see bench/.last-run/build-embedded.log)"
    fi
}

# The example's own release, for the binary to gate the same database with.
example_flags() { # DB
    printf '%s\n' --database-url "$(url_for_db "$1")" \
        --migrations-dir "$REPO_DIR/examples/embedded/migrations" \
        --compat "$REPO_DIR/examples/embedded/compat.toml" --backup-dir "$SG_BACKUPS"
}

embedded() { # DB PORT: the example on 127.0.0.1:PORT (exec: `$!` of `embedded … &` is its pid)
    DATABASE_URL=$(url_for_db "$1") LISTEN=127.0.0.1:$2 BACKUP_DIR=$SG_BACKUPS exec "$EMBED_BIN"
}

suite_embed() {
    local db=schemagate_bench_embed r port args us logf=$LOG_DIR/embed.log
    build_embedded_example
    [[ -z ${NA[embed]:-} ]] || return 0
    fresh_db "$db"
    mapfile -t args < <(example_flags "$db")
    "$SG_BIN" migrate "${args[@]}" >>"$logf" 2>&1 || die "the example's migrations failed, see $logf"
    port=$(free_port "$HTTP_PORT")
    for ((r = 1; r <= RUNS; r++)); do
        log "row 14a: run $r/$RUNS"
        # A: the application gating itself, to its first 200 on /health
        us=$(python3 "$BENCH_DIR/startup.py" "$port" env DATABASE_URL="$(url_for_db "$db")" \
            LISTEN="127.0.0.1:$port" BACKUP_DIR="$SG_BACKUPS" "$EMBED_BIN") \
            || die "the example did not answer 200 on /health"
        add_sample embed_start "$us"
        # B: the binary's no-op gate on the same database
        timeit "$logf" "$SG_BIN" migrate "${args[@]}" || die "no-op migrate failed, see $logf"
        add_sample embed_noop "$ELAPSED_US"
    done
    # 14b: /health of gate.routes() mounted in the example vs the standalone serve
    local ex_port sg_port ex_pid sg_pid
    ex_port=$(free_port $((HTTP_PORT + 20)))
    sg_port=$(free_port $((HTTP_PORT + 30)))
    embedded "$db" "$ex_port" >>"$logf" 2>&1 &
    ex_pid=$!
    "$SG_BIN" serve --listen "127.0.0.1:$sg_port" "${args[@]}" >>"$logf" 2>&1 &
    sg_pid=$!
    BG_PIDS+=("$ex_pid" "$sg_pid")
    wait_http "http://127.0.0.1:$ex_port/health" "$ex_pid" 60 || die "the example did not start"
    wait_http "http://127.0.0.1:$sg_port/health" "$sg_pid" 60 || die "serve did not start"
    for ((r = 1; r <= RUNS; r++)); do
        log "row 14b: run $r/$RUNS"
        run_wrk embed_health "http://127.0.0.1:$ex_port/health"
        run_wrk serve_health "http://127.0.0.1:$sg_port/health"
    done
    kill "$ex_pid" "$sg_pid" 2>/dev/null || true
    wait "$ex_pid" "$sg_pid" 2>/dev/null || true
    drop_db "$db"
}

# 50 live replicas of another release whose window holds the schema (admitted, shown).
fleet_rows() { # DB
    q "$1" "INSERT INTO schemagate_fleet (id, host, app_version, schema_min, schema_max, refresh_ms)
            SELECT 'bench-' || i, 'host-' || i, 'v0.0.9', 1, 2, 3600000 FROM generate_series(1, 50) i"
}

suite_fleet() {
    local db=schemagate_bench_fleet r args port pid logf=$LOG_DIR/fleet.log
    fresh_db "$db"
    mapfile -t args < <(example_flags "$db")
    "$SG_BIN" migrate "${args[@]}" >>"$logf" 2>&1 || die "the example's migrations failed, see $logf"
    port=$(free_port $((HTTP_PORT + 40)))
    # A replica announces itself, which creates the table.
    "$SG_BIN" serve --listen "127.0.0.1:$port" --refresh-interval 1s "${args[@]}" >>"$logf" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/health" "$pid" 60 || die "serve did not start"
    local tries=0
    until [[ $(q "$db" "SELECT to_regclass('schemagate_fleet') IS NOT NULL") == t ]]; do
        ((++tries < 100)) || die "the replica never announced itself in schemagate_fleet"
        sleep 0.1
    done
    for ((r = 1; r <= RUNS; r++)); do
        log "row 16: run $r/$RUNS"
        q "$db" "DELETE FROM schemagate_fleet WHERE id LIKE 'bench-%'" >/dev/null
        sleep 1.1 # one refresh: /health without them
        noop_reps fleet_noop_none "$logf" "$SG_BIN" migrate "${args[@]}" || die "no-op migrate failed"
        run_wrk fleet_none "http://127.0.0.1:$port/health"
        fleet_rows "$db" >/dev/null
        sleep 1.1 # one refresh: /health with them
        noop_reps fleet_noop_50 "$logf" "$SG_BIN" migrate "${args[@]}" || die "no-op migrate failed"
        run_wrk fleet_50 "http://127.0.0.1:$port/health"
    done
    curl -s "http://127.0.0.1:$port/health" >"$LOG_DIR/health-fleet.json" || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    bench_refresh "$db"
    drop_db "$db"
}

# Row 16c: the refresh's benchmark (src/server/refresh/bench.rs, an ignored test of the lib
# run on a release build), one refresh of a replica announcing itself among 50 others
# (on DB, the replica stopped) vs one on a database of the same schema without the fleet,
# once per run (each its own median of 200 rounds, alternating).
bench_refresh() { # DB
    local bare=schemagate_bench_bare r out args logf=$LOG_DIR/refresh.log
    log "row 16c: building the refresh's benchmark"
    if ! lib_bench --no-run >"$logf" 2>&1; then
        NA[refresh]="n/a (build failed, see bench/.last-run/refresh.log)"
        return
    fi
    fresh_db "$bare"
    mapfile -t args < <(example_flags "$bare")
    "$SG_BIN" migrate "${args[@]}" >>"$logf" 2>&1 || die "the example's migrations failed, see $logf"
    for ((r = 1; r <= RUNS; r++)); do
        log "row 16c: run $r/$RUNS"
        out=$(SCHEMAGATE_BENCH_FLEET_URL=$(url_for_db "$1") SCHEMAGATE_BENCH_BARE_URL=$(url_for_db "$bare") \
            SCHEMAGATE_BENCH_ROUNDS=200 lib_bench server::refresh::bench::one_refresh_with_the_fleet_and_without 2>>"$logf") \
            || die "the refresh's benchmark failed, see $logf"
        [[ $out =~ fleet_us=([0-9]+)\ bare_us=([0-9]+) ]] || die "unexpected output of the refresh's benchmark: $out"
        add_sample refresh_fleet "$(awk -v u="${BASH_REMATCH[1]}" 'BEGIN { printf "%.3f", u / 1e3 }')"
        add_sample refresh_bare "$(awk -v u="${BASH_REMATCH[2]}" 'BEGIN { printf "%.3f", u / 1e3 }')"
    done
    drop_db "$bare"
}

print_library_rows() {
    if row_on 14; then
        row 14a "examples/embedded: start to first 200 on \`/health\`, up-to-date DB, vs the binary's no-op \`migrate\`" \
            "$(cell us embed_start embed)" "$(cell us embed_noop embed)" "$(ratio_cell embed_start embed_noop)" "—"
        row 14b "\`/health\` throughput of \`gate.routes()\` in examples/embedded vs the standalone \`serve\`" \
            "$(cell rps embed_health_rps embed)" "$(cell rps serve_health_rps embed)" \
            "$(ratio_cell embed_health_rps serve_health_rps)" "≥ 0.95×"
    fi
    if row_on 16; then
        row 16a "no-op gate with 50 live fleet rows of another release vs none (mean of $NOOP_REPS calls)" \
            "$(cell us fleet_noop_50)" "$(cell us fleet_noop_none)" "$(ratio_cell fleet_noop_50 fleet_noop_none)" "—"
        row 16b "\`/health\` throughput with 50 live fleet rows vs none" \
            "$(cell rps fleet_50_rps)" "$(cell rps fleet_none_rps)" "$(ratio_cell fleet_50_rps fleet_none_rps)" "—"
        row 16c "one refresh announcing this replica among 50 live ones vs one without the fleet (\`Refresher::once\`, src/server/refresh/bench.rs)" \
            "$(cell ms refresh_fleet refresh)" "$(cell ms refresh_bare refresh)" "$(ratio_cell refresh_fleet refresh_bare)" "—"
    fi
}
