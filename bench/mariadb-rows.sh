# bench/mariadb-rows.sh: row 23 of bench/run.sh (sourced by it; uses its helpers).
#
# Row 23 (issue 26): the MariaDB/MySQL wing against the server's own clients, on the
# MariaDB server at $BENCH_MYSQL_HOST:$BENCH_MYSQL_PORT (default 127.0.0.1:3306, user
# $BENCH_MYSQL_USER, default root, no password; databases schemagate_bench_my_* made and
# dropped), all sides without TLS:
# 23a: `migrate --no-backup` of N migrations (a table, an index, three rows each) on a fresh
#      database vs the `mariadb` client applying the same files in one session, each
#      followed by its history row (`source FILE; INSERT INTO bench_history …`);
# 23b: the no-op gate on the migrated database vs `mariadb -e 'select 1'`;
# 23c: `backup` of a database of about $BENCH_MYSQL_MB MB vs plain `mariadb-dump` with the
#      same flags (`--single-transaction --routines --triggers --events --hex-blob
#      --skip-dump-date`) into a file.
# shellcheck shell=bash disable=SC2153,SC2154 # NA, SG_BIN, RUNS, TMP_ROOT and the helpers are run.sh's

MY_HOST=${BENCH_MYSQL_HOST:-127.0.0.1}
MY_PORT=${BENCH_MYSQL_PORT:-3306}
MY_USER=${BENCH_MYSQL_USER:-root}
MY_MB=${BENCH_MYSQL_MB:-100}
MY_CORPUS=""

my() { # my DB [mariadb args...]: the client on DB, no TLS
    local db=$1
    shift
    mariadb --host="$MY_HOST" --port="$MY_PORT" --user="$MY_USER" --skip-ssl --batch "$@" "$db"
}
my_url() { printf 'mysql://%s@%s:%s/%s?ssl-mode=DISABLED' "$MY_USER" "$MY_HOST" "$MY_PORT" "$1"; }
my_fresh() { my mysql -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1"; }
my_drop() { my mysql -e "DROP DATABASE IF EXISTS $1"; }
my_sg() { # my_sg DB COMMAND [flags...]
    local db=$1 command=$2
    shift 2
    timeout "$CMD_TIMEOUT" "$SG_BIN" "$command" --database-url "$(my_url "$db")" \
        --migrations-dir "$MY_CORPUS/schemagate" --compat "$CORPUS/compat.toml" \
        --backup-dir "$SG_BACKUPS" "$@"
}

# The corpus in MySQL's types, and the client's script applying it.
gen_mysql_corpus() {
    MY_CORPUS=$TMP_ROOT/mysql-corpus
    local sg=$MY_CORPUS/schemagate n script=$MY_CORPUS/apply.sql
    mkdir -p "$sg"
    printf 'CREATE TABLE bench_history (version INT PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_on TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6));\n' >"$script"
    for ((n = 1; n <= N_MIG; n++)); do
        printf 'CREATE TABLE bench_t%d (\n    id BIGINT AUTO_INCREMENT PRIMARY KEY,\n    name VARCHAR(100) NOT NULL,\n    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)\n);\nCREATE INDEX bench_t%d_name_idx ON bench_t%d (name);\nINSERT INTO bench_t%d (name) VALUES ('"'a%d'), ('b%d'), ('c%d');\n" \
            "$n" "$n" "$n" "$n" "$n" "$n" "$n" >"$sg/V${n}__t$n.sql"
        printf 'DROP TABLE bench_t%d;\n' "$n" >"$sg/V${n}__t$n.down.sql"
        printf "source %s\nINSERT INTO bench_history (version, name) VALUES (%d, 't%d');\n" \
            "$sg/V${n}__t$n.sql" "$n" "$n" >>"$script"
    done
}

# my_tables DB: how many bench tables it holds
my_tables() {
    my "$1" --skip-column-names -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'bench\\_t%'"
}

suite_mariadb() {
    local r db=schemagate_bench_my_sg base=schemagate_bench_my_client big=schemagate_bench_my_big
    local logf=$LOG_DIR/mariadb.log out=$TMP_ROOT/mariadb-baseline.sql rows
    if ! my mysql -e 'select 1' >/dev/null 2>&1; then
        NA[mariadb]="n/a (no MariaDB at $MY_HOST:$MY_PORT)"
        log "row 23: ${NA[mariadb]}"
        return
    fi
    gen_mysql_corpus
    for ((r = 1; r <= RUNS; r++)); do
        log "row 23a/b: run $r/$RUNS"
        my_fresh "$db"
        timeit "$logf" my_sg "$db" migrate --no-backup || die "migrate on MariaDB failed, see $logf"
        add_sample my_apply_sg "$ELAPSED_US"
        [[ $(my_tables "$db") == "$N_MIG" ]] || die "schemagate did not apply $N_MIG migrations on MariaDB"
        my_fresh "$base"
        timeit "$logf" my "$base" -e "source $MY_CORPUS/apply.sql" || die "the mariadb client's apply failed, see $logf"
        add_sample my_apply_client "$ELAPSED_US"
        [[ $(my_tables "$base") == "$N_MIG" ]] || die "the mariadb client did not apply $N_MIG files"
        noop_reps my_noop_sg "$logf" my_sg "$db" migrate || die "the no-op gate failed on MariaDB, see $logf"
        noop_reps my_noop_client "$logf" my "$db" -e 'select 1' || die "mariadb -e 'select 1' failed"
    done
    my_drop "$db"
    my_drop "$base"

    rows=$((MY_MB * 1024 * 1024 / 220))
    log "row 23c: a database of $rows rows of 200 bytes (once)"
    my_fresh "$big"
    my "$big" -e "CREATE TABLE filler (id INT PRIMARY KEY, pad VARCHAR(200) NOT NULL) ENGINE=InnoDB; INSERT INTO filler SELECT seq, REPEAT(CHAR(97 + seq % 26), 200) FROM seq_1_to_$rows" \
        || die "filling the MariaDB database failed"
    for ((r = 1; r <= RUNS; r++)); do
        log "row 23c: run $r/$RUNS"
        rm -rf "${SG_BACKUPS:?}"/*
        timeit "$logf" my_sg "$big" backup || die "backup on MariaDB failed, see $logf"
        add_sample my_backup_sg "$ELAPSED_US"
        MY_DUMP_SIZE=$(find "$SG_BACKUPS" -name '*.dump' -printf '%s\n' | head -n 1)
        rm -rf "${SG_BACKUPS:?}"/*
        rm -f "$out"
        # shellcheck disable=SC2016 # the positional parameters expand in that shell
        timeit "$logf" sh -c 'mariadb-dump --host="$1" --port="$2" --user="$3" --skip-ssl --single-transaction --routines --triggers --events --hex-blob --skip-dump-date "$4" >"$5"' \
            sh "$MY_HOST" "$MY_PORT" "$MY_USER" "$big" "$out" || die "mariadb-dump failed, see $logf"
        add_sample my_backup_dump "$ELAPSED_US"
        rm -f "$out"
    done
    my_drop "$big"
}

print_mariadb_rows() {
    row_on 23 || return 0
    local size=""
    [[ -z ${MY_DUMP_SIZE:-} ]] || size=" (a $(fmt_kb $((MY_DUMP_SIZE / 1024))) dump)"
    row 23a "MariaDB: apply $N_MIG fresh (\`migrate --no-backup\`, per-statement progress) vs the \`mariadb\` client applying the same files in one session, each with its history row" \
        "$(cell us my_apply_sg mariadb)" "$(cell us my_apply_client mariadb)" "$(ratio_cell my_apply_sg my_apply_client)" "≤ 1.1×"
    row 23b "MariaDB: no-op gate, $N_MIG applied (mean of $NOOP_REPS calls) vs \`mariadb -e 'select 1'\`" \
        "$(cell us my_noop_sg mariadb)" "$(cell us my_noop_client mariadb)" "$(ratio_cell my_noop_sg my_noop_client)" "≤ 1.5×"
    row 23c "MariaDB: \`backup\` of a $MY_MB MB database$size vs plain \`mariadb-dump\` (same flags) into a file" \
        "$(cell us my_backup_sg mariadb)" "$(cell us my_backup_dump mariadb)" "$(ratio_cell my_backup_sg my_backup_dump)" "≤ 1.05×"
}
