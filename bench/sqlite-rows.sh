# bench/sqlite-rows.sh: rows 30 to 32 of bench/run.sh (sourced by it; uses its helpers).
#
# SQLite (DESIGN §9, §17), on a database file in the same file system as the throwaway
# cluster's data (the loop-mounted ext4 image; the temporary directory with
# --existing-server), SQLite's defaults on both sides (rollback journal, synchronous=FULL).
# Row 30: apply the corpus to a new file (`migrate --no-backup`) against the `sqlite3`
# shell applying the same files in one process, each in its own transaction with a history
# row. Row 31: the no-op gate on an up-to-date file against `sqlite3 FILE 'select 1'`;
# 31b: the shell reading the history against the same `select 1` (row 31's floor).
# Row 32: 8 gates started at once on a new file against one alone: all exit 0, each
# migration once.
# shellcheck shell=bash disable=SC2154 # SG_BIN, RUNS, N_MIG, MNT and the helpers are run.sh's

SQLITE_RACERS=8
SQLITE_DIR=""
SQLITE_CORPUS=""

# The corpus in SQLite's dialect (bench_sql's shape: a table, an index, three rows) and the
# shell's script of it.
gen_sqlite_corpus() {
    SQLITE_CORPUS=$CORPUS/sqlite
    SQLITE_DIR=${MNT:-$TMP_ROOT}/sqlite
    mkdir -p "$SQLITE_CORPUS" "$SQLITE_DIR"
    local n up script=$SQLITE_CORPUS.shell.sql
    printf '.bail on\nCREATE TABLE bench_history (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_on TEXT NOT NULL);\n' >"$script"
    for ((n = 1; n <= N_MIG; n++)); do
        up="CREATE TABLE bench_t$n (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX bench_t${n}_name_idx ON bench_t$n (name);
INSERT INTO bench_t$n (name) VALUES ('a$n'), ('b$n'), ('c$n');
"
        printf '%s' "$up" >"$SQLITE_CORPUS/V${n}__t$n.sql"
        printf 'DROP TABLE bench_t%d;\n' "$n" >"$SQLITE_CORPUS/V${n}__t$n.down.sql"
        printf "BEGIN;\n.read %s\nINSERT INTO bench_history VALUES (%d, 't%d', strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ'));\nCOMMIT;\n" \
            "$SQLITE_CORPUS/V${n}__t$n.sql" "$n" "$n" >>"$script"
    done
}

sqlite_fresh() { # NAME: the path of a new, absent database file (and no lock file)
    rm -f "$SQLITE_DIR/$1" "$SQLITE_DIR/$1"-*
    printf '%s' "$SQLITE_DIR/$1"
}

SQLITE_FLAGS=()
sqlite_flags() { # FILE: SQLITE_FLAGS, the flags of a gate on FILE and the SQLite corpus
    SQLITE_FLAGS=(--database-url "sqlite:$1" --migrations-dir "$SQLITE_CORPUS"
        --compat "$CORPUS/compat.toml" --backup-dir "$SG_BACKUPS")
}

sg_sqlite() { # FILE COMMAND [flags]: schemagate on the SQLite corpus, under `timeout`
    local file=$1
    shift
    sqlite_flags "$file"
    timeout "$CMD_TIMEOUT" "$SG_BIN" "$@" "${SQLITE_FLAGS[@]}"
}

# "rows distinct tables" of a file: its history and its bench tables.
sqlite_counts() { # FILE HISTORY-TABLE
    sqlite3 "$1" "SELECT (SELECT count(*) || ' ' || count(DISTINCT version) FROM $2) || ' ' ||
        (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'bench\_t%' ESCAPE '\\')"
}

SQLITE_RACE_OK=0
SQLITE_RACE_FAILS=()
suite_sqlite() {
    command -v sqlite3 >/dev/null || {
        NA[sqlite]="n/a (no sqlite3 shell: apt-get install sqlite3)"
        return 0
    }
    gen_sqlite_corpus
    local r i file rc ok t0 pids counts logf=$LOG_DIR/sqlite.log
    for ((r = 1; r <= RUNS; r++)); do
        log "rows 30-32: run $r/$RUNS"
        # 30, interleaved: schemagate, then the shell, each on a new file
        file=$(sqlite_fresh apply.db)
        timeit "$logf" sg_sqlite "$file" migrate --no-backup || die "migrate on SQLite failed, see $logf"
        add_sample sqlite_apply_sg "$ELAPSED_US"
        [[ $(sqlite_counts "$file" refinery_schema_history) == "$N_MIG $N_MIG $N_MIG" ]] ||
            die "migrate on SQLite did not apply the corpus once: $(sqlite_counts "$file" refinery_schema_history)"
        # 31 on the file just migrated: the no-op gate, then the shell's select 1. The gate
        # runs bare, as the shell does and as row 1 runs it: `timeout`'s own fork and exec
        # (about 2 ms) would count against it.
        sqlite_flags "$file"
        noop_reps sqlite_noop_sg "$logf" "$SG_BIN" migrate "${SQLITE_FLAGS[@]}" || die "no-op migrate on SQLite failed, see $logf"
        noop_reps sqlite_noop_shell "$logf" sqlite3 "$file" 'select 1' || die "sqlite3 select 1 failed"
        # 31b: what any gate reads at least, by the shell itself: SQLite parses the whole
        # schema (the corpus's 1,000 tables and indexes) before it reads a table
        noop_reps sqlite_history_shell "$logf" sqlite3 "$file" 'SELECT version, checksum FROM refinery_schema_history' ||
            die "sqlite3 could not read the history"
        file=$(sqlite_fresh shell.db)
        timeit "$logf" sqlite3 "$file" ".read $SQLITE_CORPUS.shell.sql" || die "the sqlite3 shell's apply failed, see $logf"
        add_sample sqlite_apply_shell "$ELAPSED_US"
        [[ $(sqlite_counts "$file" bench_history) == "$N_MIG $N_MIG $N_MIG" ]] ||
            die "the sqlite3 shell did not apply the corpus once"
        # 32: one gate alone, then SQLITE_RACERS at once, each on a new file
        file=$(sqlite_fresh alone.db)
        timeit "$logf" sg_sqlite "$file" migrate --no-backup || die "migrate on SQLite failed, see $logf"
        add_sample sqlite_alone "$ELAPSED_US"
        file=$(sqlite_fresh race.db)
        pids=()
        t0=${EPOCHREALTIME/./}
        for ((i = 1; i <= SQLITE_RACERS; i++)); do
            sg_sqlite "$file" migrate --no-backup >"$LOG_DIR/sqlite-race-r$r-i$i.log" 2>&1 &
            pids+=($!)
        done
        ok=0
        for i in "${!pids[@]}"; do
            rc=0
            wait "${pids[$i]}" || rc=$?
            if ((rc == 0)); then ok=$((ok + 1)); else echo "run $r racer $((i + 1)): exit $rc" >>"$logf"; fi
        done
        add_sample sqlite_race $((${EPOCHREALTIME/./} - t0))
        counts=$(sqlite_counts "$file" refinery_schema_history)
        if ((ok == SQLITE_RACERS)) && [[ $counts == "$N_MIG $N_MIG $N_MIG" ]]; then
            SQLITE_RACE_OK=$((SQLITE_RACE_OK + 1))
        else
            SQLITE_RACE_FAILS+=("run $r: $ok/$SQLITE_RACERS exit 0, history rows/distinct and tables $counts")
            log "WARNING: row 32 run $r: $ok/$SQLITE_RACERS exit 0, counts $counts"
        fi
    done
    rm -f "$SQLITE_DIR"/*.db "$SQLITE_DIR"/*.db-*
}

print_sqlite_rows() {
    row_on 30 || row_on 31 || row_on 32 || return 0
    local race="$SQLITE_RACERS gates at once on a new file (\`migrate --no-backup\`) vs one alone"
    if [[ -z ${NA[sqlite]:-} ]]; then
        if ((SQLITE_RACE_OK == RUNS)); then
            race+="; all exit 0 and $N_MIG/$N_MIG distinct history rows and tables in $RUNS/$RUNS runs"
        else
            race+="; **FAILED in $((RUNS - SQLITE_RACE_OK))/$RUNS runs: ${SQLITE_RACE_FAILS[0]}**"
        fi
    fi
    row_on 30 && row 30 "SQLite: apply $N_MIG to a new file (\`migrate --no-backup\`) vs the \`sqlite3\` shell, one transaction + history row per file, in one process" \
        "$(cell us sqlite_apply_sg sqlite)" "$(cell us sqlite_apply_shell sqlite)" \
        "$(ratio_cell sqlite_apply_sg sqlite_apply_shell)" "≤ 1.1×"
    row_on 31 && row 31 "SQLite: no-op gate, $N_MIG applied (mean of $NOOP_REPS calls) vs \`sqlite3 FILE 'select 1'\`" \
        "$(cell us sqlite_noop_sg sqlite)" "$(cell us sqlite_noop_shell sqlite)" \
        "$(ratio_cell sqlite_noop_sg sqlite_noop_shell)" "≤ 2×"
    row_on 31 && row 31b "SQLite: the \`sqlite3\` shell reading that file's history (\`SELECT version, checksum\`, 500 rows: SQLite parses the schema's 1,000 tables and indexes first) vs \`select 1\`: row 31's floor without a file read" \
        "$(cell us sqlite_history_shell sqlite)" "$(cell us sqlite_noop_shell sqlite)" \
        "$(ratio_cell sqlite_history_shell sqlite_noop_shell)" "—"
    row_on 32 && row 32 "SQLite: $race" \
        "$(cell us sqlite_race sqlite)" "$(cell us sqlite_alone sqlite)" \
        "$(ratio_cell sqlite_race sqlite_alone)" "all exit 0, each once"
    return 0
}
