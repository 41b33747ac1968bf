# bench/quickstart-row.sh: row 33 of bench/run.sh (sourced by it; uses its helpers).
#
# The README's SQLite quick start on a machine that has never built schemagate (issue 23):
# `git clone` of this repository (its committed HEAD, through git's own transport, not
# hard links) into a new directory, then the README's line
# `cargo run -- serve --database-url sqlite:demo.db` in it, with a new, empty
# CARGO_TARGET_DIR, until `/health` first answers 200. The compile is cold; the crates.io
# registry cache (~/.cargo/registry) is the machine's, so no download is timed.
#
# The baseline is the compile inside the same run: from starting that line to cargo's
# `Running` (cargo has built what `cargo build` of the clone builds, and starts the
# binary), so the ratio is what the quick start costs beyond compiling: the clone, then
# the gate (a backup of the absent file, the 5 example migrations) and the server's first
# answer. A second cold `cargo build` of its own would take as long again and measure the
# same compile on a machine a few minutes older.
#
# Each run compiles schemagate and its dependencies cold (several minutes on 2 cores), so
# the row is not in the default set. With CARGO_LOCK the whole row holds it.
# shellcheck shell=bash disable=SC2154 # RUNS, REPO_DIR, TMP_ROOT, LOG_DIR and the helpers are run.sh's

QUICKSTART_LINE='cargo run -- serve --database-url sqlite:demo.db'
QUICKSTART_TIMEOUT=3600
QUICKSTART_OK=0
QUICKSTART_FAILS=()

# One run: clone, the README's line, the first 200; samples qs_total, qs_build, qs_clone
# and qs_start (cargo's `Running` to the 200), in microseconds.
quickstart_run() { # RUN
    local r=$1 dir port log t0 t_cloned t_running="" t_ok="" pid code rows
    dir=$(mktemp -d "$TMP_ROOT/quickstart.XXXXXX")
    port=$(free_port "$HTTP_PORT")
    log=$LOG_DIR/quickstart-r$r.log
    t0=${EPOCHREALTIME/./}
    git clone -q "file://$REPO_DIR" "$dir/schemagate" >"$log" 2>&1 || {
        QUICKSTART_FAILS+=("run $r: git clone failed, see $log")
        return 1
    }
    t_cloned=${EPOCHREALTIME/./}
    # The README's line as it is; the listening address comes from the environment, so
    # that a port taken on this machine does not change the line.
    (cd "$dir/schemagate" && CARGO_TARGET_DIR=$dir/target SCHEMAGATE_LISTEN=127.0.0.1:$port \
        exec bash -c "$QUICKSTART_LINE") >>"$log" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    local deadline=$((SECONDS + QUICKSTART_TIMEOUT))
    while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
        if [[ -z $t_running ]]; then
            grep -q '^ *Running `' "$log" && t_running=${EPOCHREALTIME/./}
            [[ -n $t_running ]] || { sleep 0.05; continue; }
        fi
        code=$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' "http://127.0.0.1:$port/health" || true)
        if [[ $code == 200 ]]; then
            t_ok=${EPOCHREALTIME/./}
            break
        fi
        sleep 0.02
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rows=$(sqlite3 "$dir/schemagate/demo.db" 'SELECT count(*) FROM refinery_schema_history' 2>/dev/null || echo none)
    rm -rf "$dir"
    if [[ -z $t_running || -z $t_ok ]]; then
        QUICKSTART_FAILS+=("run $r: no /health 200 (compiled: ${t_running:+yes}${t_running:-no}), see $log")
        return 1
    fi
    if [[ $rows != 5 ]]; then
        QUICKSTART_FAILS+=("run $r: demo.db holds $rows history rows, not the 5 example migrations, see $log")
        return 1
    fi
    QUICKSTART_OK=$((QUICKSTART_OK + 1))
    add_sample qs_total $((t_ok - t0))
    add_sample qs_build $((t_running - t_cloned))
    add_sample qs_clone $((t_cloned - t0))
    add_sample qs_start $((t_ok - t_running))
}

suite_quickstart() {
    local r fd=""
    for tool in git sqlite3; do
        command -v "$tool" >/dev/null || {
            NA[quickstart]="n/a (no $tool)"
            return 0
        }
    done
    if [[ -n ${CARGO_LOCK:-} ]]; then
        exec {fd}>>"$CARGO_LOCK"
        log "row 33: waiting for $CARGO_LOCK"
        flock "$fd"
    fi
    for ((r = 1; r <= RUNS; r++)); do
        log "row 33: run $r/$RUNS, a cold compile (several minutes)"
        quickstart_run "$r" || log "WARNING: row 33 ${QUICKSTART_FAILS[-1]}"
    done
    if [[ -n $fd ]]; then exec {fd}>&-; fi
}

print_quickstart_row() {
    row_on 33 || return 0
    local what="SQLite quick start: \`git clone\` to the first \`/health\` 200 of the README's \`$QUICKSTART_LINE\` (cold target dir, registry cache present)"
    if [[ -z ${NA[quickstart]:-} ]]; then
        what+="; clone $(cell us qs_clone), then from \`Running\` to the 200 $(cell us qs_start)"
        if ((QUICKSTART_OK < RUNS)); then
            what+="; **FAILED in $((RUNS - QUICKSTART_OK))/$RUNS runs: ${QUICKSTART_FAILS[0]}**"
        fi
    fi
    row 33 "$what vs its compile (start of the line to cargo's \`Running\`, same run)" \
        "$(cell us qs_total quickstart)" "$(cell us qs_build quickstart)" \
        "$(ratio_cell qs_total qs_build)" "—"
}
