#!/usr/bin/env bash
# bench/run.sh: schemagate against its baselines (DESIGN §9, issue 7). See bench/README.md.
#
# Prints ONE markdown table on stdout; progress and diagnostics go to stderr, and every
# command's output to bench/.last-run/. By default everything runs against a throwaway
# PostgreSQL cluster on a fresh loop-mounted ext4 image, torn down on exit.
set -euo pipefail
export LC_ALL=C

# ---------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------
RUNS=5
PEERS=0
EXISTING_URL=""
ROWS="1,2,3,4,5,6,7,8,9,10,11,14,16,17,18,21,22,23,24,25,30,31,32"
N_MIG=500
INSTANCES=16
NOOP_REPS=10
WRK_DURATION=10s
WRK_THREADS=2
WRK_CONNS=64
PGBENCH_SCALE=50
DISK_SIZE=4G
PG_PORT=55432
HTTP_PORT=58080
SAVE=0
SG_BIN=""
CMP_BIN=""
CMD_TIMEOUT=1800
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_MAJOR=""

usage() {
    cat <<'EOF'
Usage: bench/run.sh [options]

Builds schemagate (release) and bench/warp-hello, then prints one markdown table:
each row a workload, schemagate's median of N runs, the baseline's median measured in
the same runs (interleaved A/B/A/B), and the ratio schemagate / baseline.

Options:
  --runs N               runs per workload (default 5, at least 1; use >= 5 for results)
  --rows LIST            comma-separated rows to run: 1..11, 14, 16, 17, 18, 21, 22, 23, 24,
                         25, 30..33 (default all but 33; 23 is MariaDB's, see
                         bench/mariadb-rows.sh; 24 is the drift check's, 25 verify's; 30-32
                         are SQLite's and need the sqlite3 shell; 33, the README's quick
                         start from a clone, compiles cold for minutes: ask for it)
  --peers                add columns for refinery_cli, sqlx-cli, dbmate where on PATH (rows 1-3)
  --existing-server URL  use this server (postgres://user@host:port/db) instead of a
                         throwaway cluster; databases named schemagate_bench_* are
                         created and dropped on it
  --migrations N         size of the generated corpus (default 500)
  --instances N          concurrent instances for row 4 (default 16)
  --noop-reps N          invocations per run in row 1, figure is per invocation (default 10)
  --wrk-duration D       wrk duration for row 6 (default 10s)
  --pgbench-scale N      pgbench -i scale for row 5 (default 50, about 750 MB)
  --disk-size S          size of the throwaway ext4 image (default 4G)
  --pg-port P            first port tried for the throwaway cluster (default 55432)
  --http-port P          first port tried for the HTTP servers (default 58080)
  --schemagate-bin PATH  use this binary instead of building the repository's
  --compare-bin PATH     rows 1-8 only: every schemagate measurement also runs with this
                         binary, the two in alternating order run after run, and a second
                         table gives each row's two figures, their ratio and each one's
                         ratio to the baseline (rows 1b-1d are left out)
  --pg-major M           the throwaway cluster is PostgreSQL M (13 to 18) of the CI matrix
                         (.ci/pg-majors installs it), psql the machine's newest client;
                         rows 1 and 2 only, without the scale rows 1b-1d
  --save                 also write bench/RESULTS.md (table + machine description)
  -h, --help             this help

Environment: CARGO_TARGET_DIR (default bench/.target), PG_BINDIR (default
/usr/lib/postgresql/15/bin), CARGO_LOCK (a file the builds of schemagate and warp-hello
hold with flock, for a machine whose builds take turns).
EOF
}

die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 2; }
need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) need_arg "$@"; RUNS=$2; shift 2 ;;
        --rows) need_arg "$@"; ROWS=$2; shift 2 ;;
        --peers) PEERS=1; shift ;;
        --existing-server) need_arg "$@"; EXISTING_URL=$2; shift 2 ;;
        --migrations) need_arg "$@"; N_MIG=$2; shift 2 ;;
        --instances) need_arg "$@"; INSTANCES=$2; shift 2 ;;
        --noop-reps) need_arg "$@"; NOOP_REPS=$2; shift 2 ;;
        --wrk-duration) need_arg "$@"; WRK_DURATION=$2; shift 2 ;;
        --pgbench-scale) need_arg "$@"; PGBENCH_SCALE=$2; shift 2 ;;
        --disk-size) need_arg "$@"; DISK_SIZE=$2; shift 2 ;;
        --pg-port) need_arg "$@"; PG_PORT=$2; shift 2 ;;
        --http-port) need_arg "$@"; HTTP_PORT=$2; shift 2 ;;
        --schemagate-bin) need_arg "$@"; SG_BIN=$2; shift 2 ;;
        --compare-bin) need_arg "$@"; CMP_BIN=$2; shift 2 ;;
        --pg-major) need_arg "$@"; PG_MAJOR=$2; shift 2 ;;
        --save) SAVE=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done

for v in RUNS N_MIG INSTANCES NOOP_REPS PGBENCH_SCALE PG_PORT HTTP_PORT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
row_re='([1-9]|10|11|14|16|17|18|21|22|23|24|25|30|31|32|33)'
[[ $ROWS =~ ^$row_re(,$row_re)*$ ]] || die "--rows takes a comma-separated list of 1..11, 14, 16, 17, 18, 21, 22, 23, 24, 25, 30..33"
((BASH_VERSINFO[0] >= 5)) || die "bash 5 or newer is needed (EPOCHREALTIME)"

row_on() { [[ ,$ROWS, == *,$1,* ]]; }
if [[ -n $CMP_BIN ]]; then
    [[ $ROWS =~ ^[1-8](,[1-8])*$ ]] || die "--compare-bin takes --rows from 1 to 8"
    [[ -x $CMP_BIN ]] || die "--compare-bin $CMP_BIN is not executable"
fi

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
LOG_DIR=$BENCH_DIR/.last-run
TARGET_DIR=${CARGO_TARGET_DIR:-$BENCH_DIR/.target}
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
# plain logs from schemagate (tracing) in bench/.last-run/, which the herd row parses
export NO_COLOR=1

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

for tool in psql pg_dump curl wrk cargo; do
    command -v "$tool" >/dev/null || die "$tool is not on PATH (see bench/README.md)"
done
# The psql that baselines are timed with: the client itself. Debian's `psql` on PATH is
# pg_wrapper, a Perl script that finds the cluster and execs this one, which adds about
# 20 ms to every call (it made row 1's baseline 36 ms where hyperfine timed psql at 22 ms).
PSQL=$PG_BINDIR/psql
# Another major's server (DESIGN §20): the matrix's servers carry no psql, and any psql
# runs these plain SQL files against them; so the machine's newest client is the baseline.
if [[ -n $PG_MAJOR ]]; then
    [[ $ROWS =~ ^[12](,[12])?$ && -z $EXISTING_URL ]] || die "--pg-major takes --rows 1, 2 or 1,2 and a throwaway cluster"
    # It prints the server's bin directory, then the client's where there is one.
    PG_BINDIR=$("$REPO_DIR/.ci/pg-majors" --install "$PG_MAJOR") || die "cannot install PostgreSQL $PG_MAJOR (.ci/pg-majors)"
    PG_BINDIR=${PG_BINDIR%%$'\n'*}
    PSQL=$(find /usr/lib/postgresql -path '*/bin/psql' | sort -V | tail -n 1)
fi
[[ -x $PSQL ]] || die "$PSQL not found (set PG_BINDIR)"
ON_MAJOR=""
[[ -z $PG_MAJOR ]] || ON_MAJOR=" — PostgreSQL $PG_MAJOR server, psql $("$PSQL" --version | cut -d' ' -f3)"

# ---------------------------------------------------------------------------------------
# Cleanup: background servers, databases we made, the throwaway cluster and its image
# ---------------------------------------------------------------------------------------
TMP_ROOT=""
MNT=""
PGDATA_DIR=""
BASE_URL=""
BG_PIDS=()
CREATED_DBS=()

cleanup() {
    local rc=$?
    set +e
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    if [[ -n $EXISTING_URL && -n $BASE_URL ]]; then
        local db
        for db in "${CREATED_DBS[@]}"; do
            psql -X -q -d "$BASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
        done
    fi
    if [[ -n $PGDATA_DIR ]]; then
        runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1
        cp "$TMP_ROOT/postgres.log" "$LOG_DIR/postgres.log" 2>/dev/null
    fi
    if [[ -n $MNT ]] && mountpoint -q "$MNT"; then
        umount "$MNT" || umount -l "$MNT"
    fi
    [[ -n $TMP_ROOT ]] && rm -rf "$TMP_ROOT"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
# Small helpers: timing, statistics, formatting
# ---------------------------------------------------------------------------------------
ELAPSED_US=0
# timeit LOGFILE CMD...: runs CMD with its output appended to LOGFILE, sets ELAPSED_US
# (wall time in microseconds), returns CMD's status.
timeit() {
    local logf=$1 t0 t1 rc=0
    shift
    printf '$ %s\n' "$*" >>"$logf"
    t0=${EPOCHREALTIME/./}
    "$@" >>"$logf" 2>&1 || rc=$?
    t1=${EPOCHREALTIME/./}
    ELAPSED_US=$((t1 - t0))
    return "$rc"
}

declare -A SAMPLES=() NOTE=() NA=()
# The binary being measured. With --compare-bin, each schemagate measurement of rows 1-8
# runs once per side; the compared binary's samples are kept under the same keys with
# SIDE_SFX (_cmp) appended, so the rows' code is the same for both.
MAIN_BIN=""
SIDE_SFX=""
add_sample() { SAMPLES[$1$SIDE_SFX]="${SAMPLES[$1$SIDE_SFX]:-} $2"; }
# sides RUN: the binaries to measure in run RUN, in the order of that run: alternating, so
# neither side always runs first (and after the other's caches)
sides() {
    if [[ -z $CMP_BIN ]]; then
        echo main
    elif (($1 % 2)); then
        echo main cmp
    else
        echo cmp main
    fi
}
use_side() { # main | cmp
    if [[ $1 == main ]]; then
        SG_BIN=$MAIN_BIN
        SIDE_SFX=""
    else
        SG_BIN=$CMP_BIN
        SIDE_SFX=_cmp
    fi
}

# median KEY: median of the samples recorded under KEY, empty when none
median() {
    local vals=${SAMPLES[$1]:-}
    [[ -n ${vals// /} ]] || return 0
    # shellcheck disable=SC2086 # word splitting of the sample list is intended
    printf '%s\n' $vals | sort -g | awk '{v[NR]=$1} END {
        if (NR % 2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2] + v[NR/2+1]) / 2 }'
}

fmt_us() { # microseconds -> "12.3 ms" / "2.41 s"
    awk -v u="$1" 'BEGIN {
        if (u >= 1e6) printf "%.2f s", u / 1e6;
        else if (u >= 1e4) printf "%.0f ms", u / 1e3;
        else printf "%.1f ms", u / 1e3 }'
}
fmt_ms() { awk -v m="$1" 'BEGIN { if (m >= 10) printf "%.1f ms", m; else printf "%.2f ms", m }'; }
fmt_rps() { awk -v r="$1" 'BEGIN { printf "%.0f req/s", r }'; }
fmt_kb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "—" }'; }

# ---------------------------------------------------------------------------------------
# The database server
# ---------------------------------------------------------------------------------------
port_free() { [[ -z $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }
free_port() {
    local p=$1
    while ! port_free "$p"; do p=$((p + 1)); done
    echo "$p"
}

# url_for_db NAME: BASE_URL with its database replaced by NAME (query string kept)
url_for_db() {
    local scheme=${BASE_URL%%://*} rest=${BASE_URL#*://} query=""
    if [[ $rest == *\?* ]]; then
        query="?${rest#*\?}"
        rest=${rest%%\?*}
    fi
    rest=${rest%%/*}
    printf '%s://%s/%s%s' "$scheme" "$rest" "$1" "$query"
}

# make_tls DIR: a CA and a server certificate for localhost signed by it (row 8)
TLS_CA=""
TLS_PORT=""
make_tls() {
    command -v openssl >/dev/null || die "row 8 needs openssl"
    mkdir -p "$1"
    (
        cd "$1"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" \
            -keyout ca.key -out ca.crt
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
        printf 'subjectAltName=DNS:localhost\n' >san.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile san.ext -out server.crt
    ) >"$LOG_DIR/tls.log" 2>&1 || die "making the TLS certificates failed, see $LOG_DIR/tls.log"
    chown postgres: "$1/server.key" "$1/server.crt"
    chmod 0600 "$1/server.key"
    TLS_CA=$1/ca.crt
}

start_cluster() {
    [[ $(id -u) -eq 0 ]] || die "the throwaway cluster needs root (mount); or pass --existing-server URL"
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user to run initdb as; or pass --existing-server URL"
    [[ -x $PG_BINDIR/initdb ]] || die "$PG_BINDIR/initdb not found (set PG_BINDIR)"
    MNT=$TMP_ROOT/mnt
    mkdir -p "$MNT"
    log "throwaway cluster: $DISK_SIZE ext4 image in $TMP_ROOT"
    truncate -s "$DISK_SIZE" "$TMP_ROOT/disk.img"
    mkfs.ext4 -q -F "$TMP_ROOT/disk.img"
    mount -o loop "$TMP_ROOT/disk.img" "$MNT"
    mkdir -p "$MNT/data" "$MNT/sock"
    chown postgres: "$MNT/data" "$MNT/sock"
    touch "$TMP_ROOT/postgres.log"
    chown postgres: "$TMP_ROOT/postgres.log"
    # --no-instructions is new in 14 (--pg-major 13 has none)
    local quiet=()
    "$PG_BINDIR/initdb" --help | grep -q -- --no-instructions && quiet=(--no-instructions)
    runuser -u postgres -- "$PG_BINDIR/initdb" -D "$MNT/data" -U postgres -A trust \
        "${quiet[@]}" >"$LOG_DIR/initdb.log" 2>&1
    PGDATA_DIR=$MNT/data
    local port tls=""
    port=$(free_port "$PG_PORT")
    if row_on 8; then
        make_tls "$MNT/tls"
        tls="-c ssl=on -c ssl_cert_file=$MNT/tls/server.crt -c ssl_key_file=$MNT/tls/server.key"
    fi
    runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$TMP_ROOT/postgres.log" -w \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$MNT/sock -c fsync=on $tls" \
        start >"$LOG_DIR/pg_ctl.log" 2>&1
    TLS_PORT=$port
    BASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    log "PostgreSQL started at $BASE_URL (data on loop-mounted ext4, fsync on)"
}

q() { # q DB SQL: one query, unaligned tuples only, no NOTICEs
    PGOPTIONS="-c client_min_messages=warning" psql -X -qAt -v ON_ERROR_STOP=1 -d "$(url_for_db "$1")" -c "$2"
}
fresh_db() {
    q postgres "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
    q postgres "CREATE DATABASE $1" >/dev/null
    [[ " ${CREATED_DBS[*]} " == *" $1 "* ]] || CREATED_DBS+=("$1")
}
drop_db() { q postgres "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }

# bench tables present in DB
n_tables() { q "$1" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'bench\_t%'"; }
# "rows distinct" of a history table, or "none" when it does not exist
history_counts() {
    local t=${2:-refinery_schema_history}
    if [[ $(q "$1" "SELECT to_regclass('public.$t') IS NOT NULL") == t ]]; then
        q "$1" "SELECT count(*) || ' ' || count(DISTINCT version) FROM $t"
    else
        echo none
    fi
}

# ---------------------------------------------------------------------------------------
# Builds
# ---------------------------------------------------------------------------------------
# cargo_build, cargo_test ARGS...: cargo, holding CARGO_LOCK where one is given
cargo_build() { cargo_locked build "$@"; }
cargo_test() { cargo_locked test "$@"; }
cargo_locked() {
    if [[ -n ${CARGO_LOCK:-} ]]; then
        flock "$CARGO_LOCK" cargo "$@"
    else
        cargo "$@"
    fi
}

# lib_bench TEST | --no-run: one of the lib's benchmarks (rows 11 and 16c: ignored tests
# that time code below the API, src/**/bench.rs) on a release build, its output printed.
lib_bench() {
    if [[ $1 == --no-run ]]; then
        (cd "$REPO_DIR" && CARGO_TARGET_DIR=$TARGET_DIR cargo_test --release --locked --lib --no-run)
    else
        (cd "$REPO_DIR" && CARGO_TARGET_DIR=$TARGET_DIR cargo_test --release --locked --lib -- \
            --ignored --exact --nocapture --test-threads 1 "$1")
    fi
}

SG_OK=1
SG_WHY=""
build_schemagate() {
    if [[ -n $SG_BIN ]]; then
        [[ -x $SG_BIN ]] || die "--schemagate-bin $SG_BIN is not executable"
        return
    fi
    log "building schemagate (release, target dir $TARGET_DIR)"
    if (cd "$REPO_DIR" && CARGO_TARGET_DIR=$TARGET_DIR cargo_build --release --bin schemagate) \
        >"$LOG_DIR/build-schemagate.log" 2>&1; then
        SG_BIN=$TARGET_DIR/release/schemagate
    else
        SG_OK=0
        SG_WHY="n/a (build failed, see bench/.last-run/build-schemagate.log)"
        log "schemagate did not build; its columns will read n/a"
    fi
}

WARP_BIN=""
build_warp_hello() {
    log "building bench/warp-hello (release)"
    if CARGO_TARGET_DIR=$TARGET_DIR cargo_build --release \
        --manifest-path "$BENCH_DIR/warp-hello/Cargo.toml" >"$LOG_DIR/build-warp-hello.log" 2>&1; then
        WARP_BIN=$TARGET_DIR/release/warp-hello
    else
        log "warp-hello did not build (see bench/.last-run/build-warp-hello.log)"
    fi
}

# na_reason LOGFILE RC: why a schemagate command "did not work"
na_reason() {
    local logf=$1 rc=$2
    if [[ $rc -eq 0 ]] || grep -qiE 'not (yet )?implemented|not available in this build|unimplemented|todo|unrecognized subcommand|unexpected argument' "$logf"; then
        echo "n/a (not yet implemented)"
    else
        echo "n/a (failed: exit $rc, see bench/.last-run/$(basename "$logf"))"
    fi
}

# ---------------------------------------------------------------------------------------
# The corpus: N migrations (a table, an index, three rows; the down drops the table),
# written once per naming style, plus the psql scripts of the baselines.
# ---------------------------------------------------------------------------------------
# bench_sql N: migration N of every corpus into UP and DOWN (no subshell: 10,000 files are
# written for row 9)
UP=""
DOWN=""
bench_sql() {
    local n=$1
    UP="CREATE TABLE bench_t$n (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bench_t${n}_name_idx ON bench_t$n (name);
INSERT INTO bench_t$n (name) VALUES ('a$n'), ('b$n'), ('c$n');
"
    DOWN="DROP TABLE bench_t$n;
"
}

CORPUS=""
gen_corpus() {
    CORPUS=$TMP_ROOT/corpus
    local sg=$CORPUS/schemagate ref=$CORPUS/refinery sqlx=$CORPUS/sqlx dbm=$CORPUS/dbmate ps=$CORPUS/psql
    mkdir -p "$sg" "$ref" "$sqlx" "$dbm" "$ps"
    log "generating $N_MIG migrations in $CORPUS"
    local n
    {
        printf '\\set ON_ERROR_STOP 1\n'
        printf 'CREATE TABLE bench_history (version int4 PRIMARY KEY, name text NOT NULL, applied_on timestamptz NOT NULL DEFAULT now());\n'
    } >"$ps/apply_per_file.sql"
    : >"$ps/apply_concat.sql"
    for ((n = 1; n <= N_MIG; n++)); do
        bench_sql "$n"
        printf '%s' "$UP" >"$sg/V${n}__t$n.sql"
        printf '%s' "$DOWN" >"$sg/V${n}__t$n.down.sql"
        printf '%s' "$UP" >"$ref/V${n}__t$n.sql"
        printf '%s' "$UP" >"$sqlx/${n}_t$n.up.sql"
        printf '%s' "$DOWN" >"$sqlx/${n}_t$n.down.sql"
        printf -- '-- migrate:up\n%s\n-- migrate:down\n%s' "$UP" "$DOWN" >"$dbm/$(printf '%04d' "$n")_t$n.sql"
        printf 'BEGIN;\n\\i %s\nINSERT INTO bench_history (version, name) VALUES (%d, %s);\nCOMMIT;\n' \
            "$sg/V${n}__t$n.sql" "$n" "'t$n'" >>"$ps/apply_per_file.sql"
        printf '%s' "$UP" >>"$ps/apply_concat.sql"
    done
    cat >"$CORPUS/compat.toml" <<EOF
[app]
version = "1.0.0"

[schema]
min = 1
max = $N_MIG
EOF
}

# psql script running the downs newest first, down to (and excluding) version TARGET
gen_psql_rollback() {
    local target=$1 n out=$CORPUS/psql/rollback_per_file.sql
    printf '\\set ON_ERROR_STOP 1\n' >"$out"
    for ((n = N_MIG; n > target; n--)); do
        printf 'BEGIN;\n\\i %s\nDELETE FROM bench_history WHERE version = %d;\nCOMMIT;\n' \
            "$CORPUS/schemagate/V${n}__t$n.down.sql" "$n" >>"$out"
    done
}

# ---------------------------------------------------------------------------------------
# The commands being compared
# ---------------------------------------------------------------------------------------
SG_BACKUPS=""
sg_common() { # the flags every gate command takes
    printf '%s\n' --database-url "$(url_for_db "$1")" --migrations-dir "$CORPUS/schemagate" \
        --compat "$CORPUS/compat.toml" --backup-dir "$SG_BACKUPS"
}
sg_migrate() { # DB [extra flags]
    local db=$1 args
    shift
    mapfile -t args < <(sg_common "$db")
    timeout "$CMD_TIMEOUT" "$SG_BIN" migrate "${args[@]}" "$@"
}
sg_rollback() { # DB TARGET
    local args
    mapfile -t args < <(sg_common "$1")
    timeout "$CMD_TIMEOUT" "$SG_BIN" --rollback-to "$2" --no-backup "${args[@]}"
}
psql_file() { # DB FILE [psql flags]
    local db=$1 file=$2
    shift 2
    timeout "$CMD_TIMEOUT" "$PSQL" -X -q -v ON_ERROR_STOP=1 "$@" -d "$(url_for_db "$db")" -f "$file"
}

# Peers: each gets the corpus in its own naming style and its own database.
PEER_LIST=()
find_peers() {
    ((PEERS)) || return 0
    command -v refinery >/dev/null && PEER_LIST+=(refinery)
    command -v sqlx >/dev/null && PEER_LIST+=(sqlx)
    command -v dbmate >/dev/null && PEER_LIST+=(dbmate)
    if ((${#PEER_LIST[@]})); then
        log "peers on PATH: ${PEER_LIST[*]}"
    else
        log "--peers: none of refinery, sqlx, dbmate is on PATH (see bench/README.md)"
    fi
}
dbmate_url() {
    local u
    u=$(url_for_db "$1")
    [[ $u == *sslmode=* ]] || { [[ $u == *\?* ]] && u="$u&sslmode=disable" || u="$u?sslmode=disable"; }
    echo "$u"
}
peer_up() { # PEER DB
    case $1 in
        refinery) BENCH_PEER_URL=$(url_for_db "$2") timeout "$CMD_TIMEOUT" refinery migrate -e BENCH_PEER_URL -p "$CORPUS/refinery" ;;
        sqlx) timeout "$CMD_TIMEOUT" sqlx migrate run --source "$CORPUS/sqlx" --database-url "$(url_for_db "$2")" ;;
        dbmate) timeout "$CMD_TIMEOUT" dbmate --url "$(dbmate_url "$2")" --migrations-dir "$CORPUS/dbmate" --no-dump-schema up ;;
    esac
}
peer_noop() { # PEER DB (no timeout wrapper: row 1 measures milliseconds)
    case $1 in
        refinery) BENCH_PEER_URL=$(url_for_db "$2") refinery migrate -e BENCH_PEER_URL -p "$CORPUS/refinery" ;;
        sqlx) sqlx migrate run --source "$CORPUS/sqlx" --database-url "$(url_for_db "$2")" ;;
        dbmate) dbmate --url "$(dbmate_url "$2")" --migrations-dir "$CORPUS/dbmate" --no-dump-schema up ;;
    esac
}
PEER_DOWN_LOOP=0
peer_down() { # PEER DB TARGET
    local i
    case $1 in
        refinery) return 3 ;; # refinery has no down migrations
        sqlx)
            if ((PEER_DOWN_LOOP)); then
                for ((i = N_MIG; i > $3; i--)); do
                    sqlx migrate revert --source "$CORPUS/sqlx" --database-url "$(url_for_db "$2")" || return
                done
            else
                timeout "$CMD_TIMEOUT" sqlx migrate revert --source "$CORPUS/sqlx" \
                    --database-url "$(url_for_db "$2")" --target-version "$3"
            fi
            ;;
        dbmate) # dbmate rollback undoes one migration per invocation
            for ((i = N_MIG; i > $3; i--)); do
                dbmate --url "$(dbmate_url "$2")" --migrations-dir "$CORPUS/dbmate" --no-dump-schema rollback || return
            done
            ;;
    esac
}
peer_history() { # PEER DB -> "rows distinct"
    case $1 in
        refinery) history_counts "$2" refinery_schema_history ;;
        sqlx) history_counts "$2" _sqlx_migrations ;;
        dbmate) history_counts "$2" schema_migrations ;;
    esac
}

# ---------------------------------------------------------------------------------------
# Rows 1-3: no-op gate, apply N fresh, rollback N
# ---------------------------------------------------------------------------------------
RB_TARGET=0
probe_schemagate_migrations() {
    ((SG_OK)) || return 0
    local db=schemagate_bench_probe logf=$LOG_DIR/probe-migrate.log rc=0
    fresh_db "$db"
    timeit "$logf" sg_migrate "$db" --no-backup || rc=$?
    if [[ $rc -ne 0 || $(history_counts "$db") != "$N_MIG $N_MIG" || $(n_tables "$db") != "$N_MIG" ]]; then
        NA[migrate]=$(na_reason "$logf" "$rc")
        log "schemagate migrate does not work yet: ${NA[migrate]}"
        drop_db "$db"
        return
    fi
    log "probe: schemagate migrate applied $N_MIG in $(fmt_us "$ELAPSED_US")"
    logf=$LOG_DIR/probe-rollback.log
    rc=0
    timeit "$logf" sg_rollback "$db" 0 || rc=$?
    if [[ $rc -eq 0 && $(n_tables "$db") == 0 ]]; then
        RB_TARGET=0
    elif [[ $(na_reason "$logf" "$rc") == *"not yet"* ]]; then
        NA[rollback]=$(na_reason "$logf" "$rc")
        log "schemagate rollback does not work yet: ${NA[rollback]}"
    else
        log "schemagate --rollback-to 0 did not bring everything down (exit $rc); trying --rollback-to 1"
        NOTE[rb0]="--rollback-to 0 failed (exit $rc), so 1"
        fresh_db "$db"
        sg_migrate "$db" --no-backup >>"$logf" 2>&1 || true
        rc=0
        timeit "$logf" sg_rollback "$db" 1 || rc=$?
        if [[ $rc -eq 0 && $(n_tables "$db") == 1 ]]; then
            RB_TARGET=1
        else
            NA[rollback]=$(na_reason "$logf" "$rc")
            NOTE[rb0]=""
            log "schemagate rollback does not work yet: ${NA[rollback]}"
        fi
    fi
    drop_db "$db"
}

probe_peers() {
    local p db logf rc
    for p in "${PEER_LIST[@]}"; do
        [[ $p == sqlx ]] || continue
        # sqlx-cli before 0.8 has no --target-version: revert one invocation at a time
        if ! sqlx migrate revert --help 2>/dev/null | grep -q -- --target-version; then
            PEER_DOWN_LOOP=1
            NOTE[sqlx_loop]=1
        fi
    done
    for p in "${PEER_LIST[@]}"; do
        db=schemagate_bench_probe_$p
        logf=$LOG_DIR/probe-$p.log
        rc=0
        fresh_db "$db"
        peer_up "$p" "$db" >>"$logf" 2>&1 || rc=$?
        if [[ $rc -ne 0 || $(n_tables "$db") != "$N_MIG" ]]; then
            NA[peer_$p]="failed (exit $rc, see bench/.last-run/probe-$p.log)"
            log "peer $p: ${NA[peer_$p]}"
        fi
        drop_db "$db"
    done
}

check_applied() { # DB LABEL HISTORY: after an apply, N tables (and N history rows)
    local tables hist
    tables=$(n_tables "$1")
    hist=${3:-}
    if [[ $tables != "$N_MIG" ]] || [[ -n $hist && $hist != "$N_MIG $N_MIG" ]]; then
        log "WARNING: $2 left $tables tables, history '$hist' (expected $N_MIG)"
        NOTE[bad_$2]="$2: $tables tables after apply"
    fi
}
check_rolled_back() { # DB LABEL
    local tables
    tables=$(n_tables "$1")
    if [[ $tables != "$RB_TARGET" ]]; then
        log "WARNING: $2 left $tables tables after rollback (expected $RB_TARGET)"
        NOTE[badrb_$2]="$2: $tables tables after rollback"
    fi
}

# noop_reps KEY LOGFILE CMD...: NOOP_REPS invocations, one sample of the mean per invocation,
# after one untimed call (as hyperfine's warm-up): the first session of a database fills
# the server's caches for it, which is not what a gate pays at every start.
noop_reps() {
    local key=$1 logf=$2 i total=0 rc=0
    shift 2
    "$@" >>"$logf" 2>&1 || rc=$?
    for ((i = 0; i < NOOP_REPS; i++)); do
        timeit "$logf" "$@" || rc=$?
        total=$((total + ELAPSED_US))
    done
    add_sample "$key" $((total / NOOP_REPS))
    return "$rc"
}

suite_migrations() {
    local r db p logf rc args side
    for ((r = 1; r <= RUNS; r++)); do
        log "rows 1-3: run $r/$RUNS"
        # A: schemagate (each side of --compare-bin)
        for side in $(sides "$r"); do
            use_side "$side"
            if ((SG_OK)) && [[ -z ${NA[migrate]:-} ]]; then
                db=schemagate_bench_sg
                logf=$LOG_DIR/sg-migrations.log
                fresh_db "$db"
                timeit "$logf" sg_migrate "$db" --no-backup || log "WARNING: schemagate migrate failed (exit $?)"
                add_sample apply_sg "$ELAPSED_US"
                check_applied "$db" schemagate "$(history_counts "$db")"
                # the no-op gate takes no --no-backup: an empty plan must not back up
                mapfile -t args < <(sg_common "$db")
                noop_reps noop_sg "$logf" "$SG_BIN" migrate "${args[@]}" \
                    || log "WARNING: schemagate no-op migrate failed"
                if [[ -n $(find "$SG_BACKUPS" -name '*.dump' -print -quit 2>/dev/null) ]]; then
                    NOTE[noop_backup]=1
                    rm -rf "${SG_BACKUPS:?}"/*
                fi
                if [[ -z ${NA[rollback]:-} ]]; then
                    timeit "$logf" sg_rollback "$db" "$RB_TARGET" || log "WARNING: schemagate rollback failed (exit $?)"
                    add_sample rb_sg "$ELAPSED_US"
                    check_rolled_back "$db" schemagate
                    rm -rf "${SG_BACKUPS:?}"/*
                fi
                drop_db "$db"
            fi
        done
        use_side main
        # B: psql, one transaction per file (and its history row), one session
        db=schemagate_bench_psql
        logf=$LOG_DIR/psql-migrations.log
        fresh_db "$db"
        timeit "$logf" psql_file "$db" "$CORPUS/psql/apply_per_file.sql" || die "psql apply failed, see $logf"
        add_sample apply_psql "$ELAPSED_US"
        check_applied "$db" psql "$(history_counts "$db" bench_history)"
        noop_reps noop_psql "$logf" "$PSQL" -X -q -d "$(url_for_db "$db")" -c 'select 1' || die "psql select 1 failed"
        timeit "$logf" psql_file "$db" "$CORPUS/psql/rollback_per_file.sql" || die "psql rollback failed, see $logf"
        add_sample rb_psql "$ELAPSED_US"
        check_rolled_back "$db" psql
        drop_db "$db"
        # B': psql -1 of the concatenation (the floor: no history, one transaction)
        db=schemagate_bench_concat
        fresh_db "$db"
        timeit "$logf" psql_file "$db" "$CORPUS/psql/apply_concat.sql" -1 || die "psql -1 apply failed, see $logf"
        add_sample apply_concat "$ELAPSED_US"
        check_applied "$db" psql-1
        drop_db "$db"
        # peers
        for p in "${PEER_LIST[@]}"; do
            [[ -z ${NA[peer_$p]:-} ]] || continue
            db=schemagate_bench_$p
            logf=$LOG_DIR/peer-$p.log
            fresh_db "$db"
            timeit "$logf" peer_up "$p" "$db" || log "WARNING: $p up failed (exit $?)"
            add_sample "apply_$p" "$ELAPSED_US"
            check_applied "$db" "$p" "$(peer_history "$p" "$db")"
            noop_reps "noop_$p" "$logf" peer_noop "$p" "$db" || log "WARNING: $p no-op failed"
            rc=0
            timeit "$logf" peer_down "$p" "$db" "$RB_TARGET" || rc=$?
            if [[ $rc -eq 0 ]]; then
                add_sample "rb_$p" "$ELAPSED_US"
                check_rolled_back "$db" "$p"
            elif [[ $rc -ne 3 ]]; then
                log "WARNING: $p down failed (exit $rc)"
            fi
            drop_db "$db"
        done
    done
}

# ---------------------------------------------------------------------------------------
# Row 4: INSTANCES started at once on an empty database vs one instance
# ---------------------------------------------------------------------------------------
HERD_OK_RUNS=0
HERD_FAILS=()
HERD_SIDES=1
[[ -z $CMP_BIN ]] || HERD_SIDES=2
suite_herd() {
    if ! ((SG_OK)) || [[ -n ${NA[migrate]:-} ]]; then
        return
    fi
    local r db=schemagate_bench_herd logf=$LOG_DIR/herd.log i t0 t1 ok hist tables pids=() rc side winner
    for ((r = 1; r <= RUNS; r++)); do
        log "row 4: run $r/$RUNS"
        for side in $(sides "$r"); do
            use_side "$side"
            fresh_db "$db"
            timeit "$logf" sg_migrate "$db" --no-backup || log "WARNING: single instance failed (exit $?)"
            add_sample herd_single "$ELAPSED_US"
            drop_db "$db"

            fresh_db "$db"
            pids=()
            t0=${EPOCHREALTIME/./}
            for ((i = 1; i <= INSTANCES; i++)); do
                sg_migrate "$db" --no-backup >"$LOG_DIR/herd-r$r-i$i.log" 2>&1 &
                pids+=($!)
            done
            ok=0
            for i in "${!pids[@]}"; do
                rc=0
                wait "${pids[$i]}" || rc=$?
                if [[ $rc -eq 0 ]]; then
                    ok=$((ok + 1))
                else
                    echo "run $r instance $((i + 1)): exit $rc" >>"$logf"
                fi
            done
            t1=${EPOCHREALTIME/./}
            add_sample herd_many $((t1 - t0))
            # how long the instance that got the lock took to apply, from its own summary line
            winner=$(cat "$LOG_DIR"/herd-r"$r"-i*.log | grep -oE "[1-9][0-9]* migration\(s\) applied in [0-9.]+(ms|s)" \
                | awk '{ v = $NF; if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%d\n", v * 1000 } else { sub(/s$/, "", v); printf "%d\n", v * 1e6 } }' \
                | head -1 || true)
            [[ -z $winner ]] || add_sample herd_winner "$winner"
            hist=$(history_counts "$db")
            tables=$(n_tables "$db")
            if [[ $ok -eq $INSTANCES && $hist == "$N_MIG $N_MIG" && $tables == "$N_MIG" ]]; then
                HERD_OK_RUNS=$((HERD_OK_RUNS + 1))
            else
                HERD_FAILS+=("run $r${SIDE_SFX:+ (--compare-bin)}: $ok/$INSTANCES exit 0, history rows/distinct $hist, $tables tables")
                log "WARNING: row 4 run $r: $ok/$INSTANCES exit 0, history '$hist', $tables tables"
            fi
            drop_db "$db"
        done
        use_side main
    done
}

# ---------------------------------------------------------------------------------------
# Row 5: backup vs pg_dump -Fc of a pgbench database
# ---------------------------------------------------------------------------------------
DUMP_SIZE=""
PG_DUMP_BIN=pg_dump
suite_backup() {
    local db=schemagate_bench_pgbench r logf=$LOG_DIR/backup.log rc out=$TMP_ROOT/baseline.dump major args side
    major=$(q postgres "SELECT current_setting('server_version_num')::int / 10000")
    if [[ -x /usr/lib/postgresql/$major/bin/pg_dump ]]; then
        PG_DUMP_BIN=/usr/lib/postgresql/$major/bin/pg_dump
    fi
    fresh_db "$db"
    log "row 5: pgbench -i -s $PGBENCH_SCALE (once)"
    timeit "$LOG_DIR/pgbench.log" pgbench -i -q -s "$PGBENCH_SCALE" "$(url_for_db "$db")" || die "pgbench -i failed, see bench/.last-run/pgbench.log"
    log "row 5: pgbench -i took $(fmt_us "$ELAPSED_US"); database is $(q "$db" "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    q "$db" "CHECKPOINT" >/dev/null
    local sg_on=1
    if ! ((SG_OK)); then sg_on=0; fi
    mapfile -t args < <(sg_common "$db")
    for ((r = 1; r <= RUNS; r++)); do
        log "row 5: run $r/$RUNS"
        for side in $(sides "$r"); do
            use_side "$side"
            ((sg_on)) || continue
            rm -rf "${SG_BACKUPS:?}"/*
            rc=0
            timeit "$logf" timeout "$CMD_TIMEOUT" "$SG_BIN" backup "${args[@]}" || rc=$?
            if [[ $rc -eq 0 && -n $(find "$SG_BACKUPS" -name '*.dump' -size +0 -print -quit) ]]; then
                add_sample backup_sg "$ELAPSED_US"
            else
                NA[backup]=$(na_reason "$logf" "$rc")
                log "schemagate backup does not work yet: ${NA[backup]}"
                sg_on=0
            fi
            rm -rf "${SG_BACKUPS:?}"/*
        done
        use_side main
        rm -f "$out"
        timeit "$logf" "$PG_DUMP_BIN" -Fc -f "$out" -d "$(url_for_db "$db")" || die "pg_dump failed, see $logf"
        add_sample backup_pgdump "$ELAPSED_US"
        DUMP_SIZE=$(stat -c %s "$out")
        rm -f "$out"
    done
    drop_db "$db"
}

# ---------------------------------------------------------------------------------------
# Row 8: the no-op gate over sslmode=verify-full vs psql over the same TLS connection
# ---------------------------------------------------------------------------------------
suite_tls() {
    local db=schemagate_bench_tls r logf=$LOG_DIR/tls-noop.log tls_url plain_url args side
    if [[ -z $TLS_CA ]]; then
        NA[tls]="n/a (needs the throwaway cluster)"
        return
    fi
    fresh_db "$db"
    sg_migrate "$db" --no-backup >>"$logf" 2>&1 || die "row 8: migrate failed, see $logf"
    tls_url="postgres://postgres@localhost:$TLS_PORT/$db?sslmode=verify-full&sslrootcert=$TLS_CA"
    plain_url="postgres://postgres@127.0.0.1:$TLS_PORT/$db?sslmode=disable"
    args=(--migrations-dir "$CORPUS/schemagate" --compat "$CORPUS/compat.toml" --backup-dir "$SG_BACKUPS")
    for ((r = 1; r <= RUNS; r++)); do
        log "row 8: run $r/$RUNS"
        for side in $(sides "$r"); do
            use_side "$side"
            noop_reps noop_tls_sg "$logf" "$SG_BIN" migrate --database-url "$tls_url" "${args[@]}" \
                || log "WARNING: schemagate no-op over TLS failed"
        done
        use_side main
        noop_reps noop_tls_psql "$logf" "$PSQL" -X -q -d "$tls_url" -c 'select 1' || die "psql over TLS failed, see $logf"
        for side in $(sides "$r"); do
            use_side "$side"
            noop_reps noop_plain_sg "$logf" "$SG_BIN" migrate --database-url "$plain_url" "${args[@]}" \
                || log "WARNING: schemagate no-op without TLS failed"
        done
        use_side main
    done
    drop_db "$db"
}

# ---------------------------------------------------------------------------------------
# Rows 6-7: /health and /metrics under wrk vs a bare warp server; serve's peak RSS
# ---------------------------------------------------------------------------------------
wait_http() { # URL PID SECONDS: until URL answers (any status) or PID dies
    local url=$1 pid=$2 deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.2
    done
    return 1
}
# run_wrk KEY URL: one wrk run; samples KEY_rps and KEY_p99 (ms)
run_wrk() {
    local key=$1 url=$2 out
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" --latency "$url" 2>&1) || true
    printf '$ wrk %s\n%s\n' "$url" "$out" >>"$LOG_DIR/wrk.log"
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
        m = (u == "us") ? v / 1000 : (u == "ms") ? v : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v;
        print m }' <<<"$out")
    if [[ -n $rps ]]; then add_sample "${key}_rps" "$rps"; fi
    if [[ -n $p99 ]]; then add_sample "${key}_p99" "$p99"; fi
    if grep -q 'Non-2xx' <<<"$out"; then NOTE[${key}_non2xx]=1; fi
    if grep -q 'Socket errors' <<<"$out"; then NOTE[${key}_sockerr]=1; fi
}
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# Row 6e: the idle keep-alive connections held beside wrk, and serve's limit above them.
IDLE_CONNS=1000
IDLE_MAX_CONNECTIONS=1100
# run_wrk_idle KEY URL PORT: one wrk run while bench/idle_clients.py holds IDLE_CONNS idle
# keep-alive connections to PORT; samples KEY_rps, KEY_p99, idle_ready and idle_held
run_wrk_idle() {
    local key=$1 url=$2 port=$3 out=$LOG_DIR/idle-clients.out holder n
    : >"$out"
    python3 "$BENCH_DIR/idle_clients.py" 127.0.0.1 "$port" "$IDLE_CONNS" >"$out" 2>>"$LOG_DIR/idle-clients.log" &
    holder=$!
    BG_PIDS+=("$holder")
    for ((n = 0; n < 600; n++)); do
        grep -q '^ready' "$out" && break
        kill -0 "$holder" 2>/dev/null || break
        sleep 0.1
    done
    add_sample idle_ready "$(awk '/^ready/ {print $2}' "$out")"
    run_wrk "$key" "$url"
    kill -TERM "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
    add_sample idle_held "$(awk '/^held/ {print $2}' "$out")"
}

SERVE_STATUS=""
declare -A SERVE_PID=() SERVE_PORT=()
# start_serve: `serve` of the current side on a database of its own, on the first free port
# (SERVE_PID and SERVE_PORT keyed by SIDE_SFX); fails with NA[serve] set when it does not come up
start_serve() {
    local db=schemagate_bench_serve$SIDE_SFX logf=$LOG_DIR/serve$SIDE_SFX.log port pid args code rc=0
    fresh_db "$db"
    sg_migrate "$db" --no-backup >>"$logf" 2>&1 || true
    port=$(free_port "$HTTP_PORT")
    mapfile -t args < <(sg_common "$db")
    "$SG_BIN" serve --listen "127.0.0.1:$port" --max-connections "$IDLE_MAX_CONNECTIONS" "${args[@]}" >>"$logf" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    if ! wait_http "http://127.0.0.1:$port/health" "$pid" 120; then
        kill -0 "$pid" 2>/dev/null || { wait "$pid" || rc=$?; }
        NA[serve]=$(na_reason "$logf" "$rc")
        log "schemagate serve does not work yet: ${NA[serve]}"
        return 1
    fi
    code=$(curl -s -o "$LOG_DIR/health$SIDE_SFX.json" -w '%{http_code}' "http://127.0.0.1:$port/health" || true)
    curl -s -o "$LOG_DIR/metrics$SIDE_SFX.txt" "http://127.0.0.1:$port/metrics" || true
    [[ -n $SERVE_STATUS && $SERVE_STATUS != 200 ]] || SERVE_STATUS=$code
    SERVE_PID[$SIDE_SFX]=$pid
    SERVE_PORT[$SIDE_SFX]=$port
    log "schemagate serve ($SG_BIN) is up on port $port (/health answered $code)"
}
stop_serve() { # the current side's serve and its database
    kill "${SERVE_PID[$SIDE_SFX]}" 2>/dev/null || true
    wait "${SERVE_PID[$SIDE_SFX]}" 2>/dev/null || true
    drop_db "schemagate_bench_serve$SIDE_SFX"
}

suite_http() {
    local warp_port warp_pid="" r side port sg_on=1
    if ! ((SG_OK)); then
        sg_on=0
    elif [[ -n ${NA[migrate]:-} ]]; then
        sg_on=0
        NA[serve]=${NA[migrate]}
    fi
    if ((sg_on)); then
        # Row 6e holds IDLE_CONNS connections beside wrk's: a limit above them, and the
        # descriptors for it (the holder is started from this shell too).
        ulimit -n 4096 2>/dev/null || log "cannot raise ulimit -n to 4096: row 6e runs at $(ulimit -n) descriptors"
        for side in $(sides 1); do
            use_side "$side"
            start_serve || sg_on=0
        done
        use_side main
    fi
    if [[ -n $WARP_BIN ]]; then
        warp_port=$(free_port $((HTTP_PORT + 10)))
        "$WARP_BIN" "127.0.0.1:$warp_port" >>"$LOG_DIR/warp-hello.log" 2>&1 &
        warp_pid=$!
        BG_PIDS+=("$warp_pid")
        wait_http "http://127.0.0.1:$warp_port/" "$warp_pid" 30 || { log "warp-hello did not start"; warp_pid=""; }
    fi
    for ((r = 1; r <= RUNS; r++)); do
        log "row 6: run $r/$RUNS"
        [[ -z $warp_pid ]] || run_wrk warp "http://127.0.0.1:$warp_port/"
        ((sg_on)) || continue
        for side in $(sides "$r"); do
            use_side "$side"
            port=${SERVE_PORT[$SIDE_SFX]}
            run_wrk health "http://127.0.0.1:$port/health"
            run_wrk metrics "http://127.0.0.1:$port/metrics"
        done
        use_side main
    done
    # Row 7 before row 6e, whose idle connections have buffers of their own.
    if ((sg_on)); then
        for side in $(sides 1); do
            use_side "$side"
            add_sample rss_sg "$(hwm_kb "${SERVE_PID[$SIDE_SFX]}")"
        done
        use_side main
    fi
    if ((sg_on)) && row_on 6; then
        for ((r = 1; r <= RUNS; r++)); do
            log "row 6e: run $r/$RUNS"
            for side in $(sides "$r"); do
                use_side "$side"
                port=${SERVE_PORT[$SIDE_SFX]}
                # the two sides in alternating order, so neither always runs first
                ((r % 2)) || run_wrk_idle health_idle "http://127.0.0.1:$port/health" "$port"
                run_wrk health_none "http://127.0.0.1:$port/health"
                ((r % 2 == 0)) || run_wrk_idle health_idle "http://127.0.0.1:$port/health" "$port"
            done
            use_side main
        done
        for side in $(sides 1); do
            use_side "$side"
            add_sample rss_idle "$(hwm_kb "${SERVE_PID[$SIDE_SFX]}")"
        done
        use_side main
    fi
    if ((sg_on)); then
        for side in $(sides 1); do
            use_side "$side"
            stop_serve
        done
        use_side main
    fi
    if [[ -n $warp_pid ]]; then
        add_sample rss_warp "$(hwm_kb "$warp_pid")"
        kill "$warp_pid" 2>/dev/null || true
        wait "$warp_pid" 2>/dev/null || true
    fi
}

# Rows 14 and 16: the library boundary and the fleet.
# shellcheck disable=SC1091 # checked on its own by .ci/validate-deploy
. "$BENCH_DIR/library-rows.sh"

# Rows 17 and 18: dry runs under a held lock, and --atomic.
# shellcheck disable=SC1091 # checked on its own by .ci/validate-deploy
. "$BENCH_DIR/commands-rows.sh"

# Rows 1b to 1d and 9 to 11: timestamp versions at scale, embedded and from a directory.
# shellcheck disable=SC1091 # checked on its own by .ci/validate-deploy
. "$BENCH_DIR/scale-rows.sh"

# Rows 21 and 22: a realistic migration history's no-op gate, and memory per MB of SQL.
# shellcheck disable=SC1091 # checked on its own by .ci/validate-deploy
. "$BENCH_DIR/parsing-rows.sh"

# Rows 30 to 32: SQLite (apply, no-op start, 8 gates at once).
# shellcheck disable=SC1091 # checked on its own by .ci/validate-deploy
. "$BENCH_DIR/sqlite-rows.sh"
# Row 33: the README's SQLite quick start from a clone, against its compile.
# shellcheck disable=SC1091 # checked on its own by .ci/validate-deploy
. "$BENCH_DIR/quickstart-row.sh"
# Row 23: MariaDB against its own clients.
# shellcheck disable=SC1091 # checked on its own by .ci/validate-deploy
. "$BENCH_DIR/mariadb-rows.sh"
# Row 24: the drift check of 2,000 objects, and /health while it runs every second.
# shellcheck disable=SC1091 # checked on its own by .ci/validate-deploy
. "$BENCH_DIR/drift-rows.sh"
# Row 25: verify against migrate of the same migrations.
# shellcheck disable=SC1091 # checked on its own by .ci/validate-deploy
. "$BENCH_DIR/verify-rows.sh"

# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------
# cell KIND KEY [NA-KEY]: formatted median of KEY, or the n/a reason
cell() {
    local kind=$1 key=$2 nakey=${3:-} m
    if ! ((SG_OK)) && [[ $key == *_sg || $key == health_* || $key == metrics_* ]]; then
        echo "$SG_WHY"
        return
    fi
    if [[ -n $nakey && -n ${NA[$nakey]:-} ]]; then
        echo "${NA[$nakey]}"
        return
    fi
    m=$(median "$key")
    if [[ -z $m ]]; then
        echo "n/a"
        return
    fi
    case $kind in
        us) fmt_us "$m" ;;
        ms) fmt_ms "$m" ;;
        rps) fmt_rps "$m" ;;
        kb) fmt_kb "$m" ;;
    esac
}
# pair_cell KEY_A KEY_B: the median of the per-run ratios A/B and their range, where both
# keys have one sample per run (the same runs): the spread says what noise is
pair_cell() {
    local a=${SAMPLES[$1]:-} b=${SAMPLES[$2]:-}
    awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x, " "); m = split(b, y, " ")
        if (n == 0 || n != m) { print "—"; exit }
        for (i = 1; i <= n; i++) r[i] = y[i] > 0 ? x[i] / y[i] : 0
        for (i = 2; i <= n; i++) for (j = i; j > 1 && r[j - 1] > r[j]; j--) { t = r[j]; r[j] = r[j - 1]; r[j - 1] = t }
        med = (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
        printf "%.2f× (%.2f–%.2f)", med, r[1], r[n] }'
}
ratio_cell() { # KEY_A KEY_B
    local a b
    a=$(median "$1")
    b=$(median "$2")
    if [[ -n $a && -n $b ]]; then ratio "$a" "$b"; else echo "—"; fi
}
peer_cell() { # PEER KEY_PREFIX BASELINE_KEY
    local p=$1 key="$2_$1" m
    if [[ -n ${NA[peer_$p]:-} ]]; then
        echo "${NA[peer_$p]}"
        return
    fi
    if [[ $2 == rb && $p == refinery ]]; then
        echo "n/a (no downs)"
        return
    fi
    m=$(median "$key")
    if [[ -z $m ]]; then
        echo "n/a"
        return
    fi
    printf '%s (%s)' "$(fmt_us "$m")" "$(ratio "$m" "$(median "$3")")"
}

print_table() {
    local header="| # | workload | schemagate | baseline (same runs) | ratio | target |" sep="|---|---|---|---|---|---|" p
    local peer_cols=()
    if ((PEERS)); then peer_cols=("${PEER_LIST[@]}"); fi
    for p in "${peer_cols[@]}"; do
        header+=" $p |"
        sep+="---|"
    done
    echo "$header"
    echo "$sep"
    row() { # NUM WORKLOAD SG BASE RATIO TARGET [PEER_PREFIX BASE_KEY]
        local line="| $1 | $2 | $3 | $4 | $5 | $6 |" pp
        for pp in "${peer_cols[@]}"; do
            if [[ -n ${7:-} ]]; then line+=" $(peer_cell "$pp" "$7" "$8") |"; else line+=" — |"; fi
        done
        echo "$line"
    }
    local rb_label="rollback all $N_MIG (\`--rollback-to $RB_TARGET --no-backup\`)"
    [[ $RB_TARGET -eq 0 ]] || rb_label="rollback $((N_MIG - 1)) of $N_MIG (\`--rollback-to 1 --no-backup\`: 0 failed)"
    if row_on 1; then
        local nb=""
        [[ -z ${NOTE[noop_backup]:-} ]] || nb=" **(took a backup!)**"
        row 1 "no-op gate: \`migrate\` on an up-to-date DB (mean of $NOOP_REPS calls) vs \`psql -c 'select 1'\`$nb$ON_MAJOR" \
            "$(cell us noop_sg migrate)" "$(cell us noop_psql)" "$(ratio_cell noop_sg noop_psql)" "≤ 1.5×" noop noop_psql
    fi
    [[ -n $PG_MAJOR || -n $CMP_BIN ]] || print_scale_rows 1
    if row_on 2; then
        row 2a "apply $N_MIG fresh (\`migrate --no-backup\`) vs \`psql\`, one transaction + history row per file$ON_MAJOR" \
            "$(cell us apply_sg migrate)" "$(cell us apply_psql)" "$(ratio_cell apply_sg apply_psql)" "≤ 1.03×" apply apply_psql
        row 2b "apply $N_MIG fresh (\`migrate --no-backup\`) vs \`psql -1\` of the concatenation (floor)$ON_MAJOR" \
            "$(cell us apply_sg migrate)" "$(cell us apply_concat)" "$(ratio_cell apply_sg apply_concat)" "—" apply apply_concat
    fi
    if row_on 3; then
        local rbna=rollback
        [[ -n ${NA[migrate]:-} ]] && rbna=migrate
        row 3 "$rb_label vs \`psql\`, one transaction per down" \
            "$(cell us rb_sg "$rbna")" "$(cell us rb_psql)" "$(ratio_cell rb_sg rb_psql)" "≤ 1.1×" rb rb_psql
    fi
    if row_on 4; then
        local herd="$INSTANCES instances at once on an empty DB (\`migrate --no-backup\`) vs one instance"
        if ((SG_OK)) && [[ -z ${NA[migrate]:-} ]]; then
            if ((HERD_OK_RUNS == RUNS * HERD_SIDES)); then
                herd+="; all exit 0 and $N_MIG/$N_MIG distinct history rows in $HERD_OK_RUNS/$HERD_OK_RUNS runs"
                [[ -z $(median herd_winner) ]] || herd+="; the lock holder's own apply took $(fmt_us "$(median herd_winner)")"
            else
                herd+="; **FAILED in $((RUNS * HERD_SIDES - HERD_OK_RUNS))/$((RUNS * HERD_SIDES)) runs: ${HERD_FAILS[0]}**"
            fi
        fi
        row 4 "$herd" "$(cell us herd_many_sg migrate)" "$(cell us herd_single migrate)" \
            "$(ratio_cell herd_many_sg herd_single)" "≤ 1.2×, all exit 0, each once"
    fi
    if row_on 5; then
        local size=""
        [[ -z $DUMP_SIZE ]] || size=", dump $(fmt_kb $((DUMP_SIZE / 1024)))"
        row 5 "backup of \`pgbench -i -s $PGBENCH_SCALE\` vs \`pg_dump -Fc\`$size" \
            "$(cell us backup_sg backup)" "$(cell us backup_pgdump)" "$(ratio_cell backup_sg backup_pgdump)" "≤ 1.05×"
    fi
    if row_on 8; then
        row 8a "no-op gate over \`sslmode=verify-full\` (mean of $NOOP_REPS calls) vs \`psql -c 'select 1'\` over the same TLS connection" \
            "$(cell us noop_tls_sg tls)" "$(cell us noop_tls_psql tls)" "$(ratio_cell noop_tls_sg noop_tls_psql)" "≤ 1.5×"
        row 8b "no-op gate over \`verify-full\` vs the same gate with \`sslmode=disable\` (what TLS costs)" \
            "$(cell us noop_tls_sg tls)" "$(cell us noop_plain_sg tls)" "$(ratio_cell noop_tls_sg noop_plain_sg)" "—"
    fi
    if row_on 6; then
        local st=""
        [[ -z $SERVE_STATUS || $SERVE_STATUS == 200 ]] || st=" **(/health answered $SERVE_STATUS)**"
        [[ -z ${NOTE[health_non2xx]:-} ]] || st+=" **(non-2xx under load)**"
        row 6a "\`/health\` throughput, wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION vs bare warp \"hello\"$st" \
            "$(cell rps health_rps serve)" "$(cell rps warp_rps)" "$(ratio_cell health_rps warp_rps)" "≥ 0.80×"
        row 6b "\`/health\` p99 latency vs bare warp" \
            "$(cell ms health_p99 serve)" "$(cell ms warp_p99)" "$(ratio_cell health_p99 warp_p99)" "< 2 ms"
        local mn=""
        [[ -z ${NOTE[metrics_non2xx]:-} ]] || mn=" **(non-2xx under load)**"
        row 6c "\`/metrics\` throughput vs bare warp$mn" \
            "$(cell rps metrics_rps serve)" "$(cell rps warp_rps)" "$(ratio_cell metrics_rps warp_rps)" "≥ 0.80×"
        row 6d "\`/metrics\` p99 latency vs bare warp" \
            "$(cell ms metrics_p99 serve)" "$(cell ms warp_p99)" "$(ratio_cell metrics_p99 warp_p99)" "< 2 ms"
        local idle
        idle="\`/health\` throughput with $IDLE_CONNS idle keep-alive connections held (\`bench/idle_clients.py\`; $(median idle_ready) opened, $(median idle_held) still open after wrk) vs none, \`--max-connections $IDLE_MAX_CONNECTIONS\`; serve's peak RSS with them $(cell kb rss_idle serve)"
        row 6e "$idle" "$(cell rps health_idle_rps serve)" "$(cell rps health_none_rps serve)" "$(ratio_cell health_idle_rps health_none_rps)" "—"
    fi
    if row_on 7; then
        row 7 "peak RSS (VmHWM) of \`serve\` after the wrk runs vs warp-hello" \
            "$(cell kb rss_sg serve)" "$(cell kb rss_warp)" "$(ratio_cell rss_sg rss_warp)" "< 30 MB"
    fi
    print_scale_rows 9
    print_library_rows
    print_commands_rows
    print_parsing_rows
    print_sqlite_rows
    print_quickstart_row
    print_mariadb_rows
    print_drift_rows
    print_verify_rows
}

# The second table of --compare-bin: each row's figure for the two binaries, measured in
# the same runs, their ratio, and each one against the row's baseline.
print_compare_table() {
    echo "| # | workload | schemagate | --compare-bin | ratio schemagate / --compare-bin | per-run ratios: median (range) | schemagate vs baseline | --compare-bin vs baseline |"
    echo "|---|---|---|---|---|---|---|---|"
    # cmp_row NUM WORKLOAD KIND KEY BASE [own]: "own" when each side has its own baseline
    cmp_row() {
        local base_cmp=$5
        [[ ${6:-} != own ]] || base_cmp=${5}_cmp
        echo "| $1 | $2 | $(cell "$3" "$4") | $(cell "$3" "$4_cmp") | $(ratio_cell "$4" "$4_cmp") | $(pair_cell "$4" "$4_cmp") | $(ratio_cell "$4" "$5") | $(ratio_cell "$4_cmp" "$base_cmp") |"
    }
    if row_on 1; then
        cmp_row 1 "no-op gate (mean of $NOOP_REPS calls) vs \`psql -c 'select 1'\`" us noop_sg noop_psql
    fi
    if row_on 2; then
        cmp_row 2a "apply $N_MIG fresh vs \`psql\`, one transaction + history row per file" us apply_sg apply_psql
        cmp_row 2b "apply $N_MIG fresh vs \`psql -1\` of the concatenation" us apply_sg apply_concat
    fi
    if row_on 3; then
        cmp_row 3 "rollback to $RB_TARGET vs \`psql\`, one transaction per down" us rb_sg rb_psql
    fi
    if row_on 4; then
        cmp_row 4 "$INSTANCES instances at once vs one instance (each binary its own)" us herd_many_sg herd_single own
    fi
    if row_on 5; then
        cmp_row 5 "backup of \`pgbench -i -s $PGBENCH_SCALE\` vs \`pg_dump -Fc\`" us backup_sg backup_pgdump
    fi
    if row_on 6; then
        cmp_row 6a "\`/health\` throughput vs bare warp" rps health_rps warp_rps
        cmp_row 6b "\`/health\` p99 latency vs bare warp" ms health_p99 warp_p99
        cmp_row 6c "\`/metrics\` throughput vs bare warp" rps metrics_rps warp_rps
        cmp_row 6d "\`/metrics\` p99 latency vs bare warp" ms metrics_p99 warp_p99
        cmp_row 6e "\`/health\` throughput with $IDLE_CONNS idle connections vs none (each binary its own)" rps health_idle_rps health_none_rps own
    fi
    if row_on 7; then
        cmp_row 7 "peak RSS of \`serve\` after the wrk runs vs warp-hello" kb rss_sg rss_warp
    fi
    if row_on 8; then
        cmp_row 8a "no-op gate over \`verify-full\` vs \`psql -c 'select 1'\` over TLS" us noop_tls_sg noop_tls_psql
        cmp_row 8b "no-op gate over \`verify-full\` vs \`sslmode=disable\` (each binary its own)" us noop_tls_sg noop_plain_sg own
    fi
}

machine_description() {
    local mem kernel cpu pgv
    mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
    kernel=$(uname -sr)
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    pgv=$(q postgres "SELECT version()" 2>/dev/null || echo unknown)
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- nproc: $(nproc) ($cpu)"
    echo "- memory: $mem"
    # shellcheck disable=SC1091 # the OS's file, not ours
    echo "- kernel: $kernel; $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- PostgreSQL: $pgv"
    if [[ -n $EXISTING_URL ]]; then
        echo "- server: existing (--existing-server)"
    else
        echo "- server: throwaway cluster, data on a fresh $DISK_SIZE loop-mounted ext4 image, fsync on, otherwise initdb defaults"
    fi
    echo "- schemagate: $(git -C "$REPO_DIR" log -1 --format='%h %s' 2>/dev/null || echo unknown)"
    echo "- command: \`bench/run.sh --runs $RUNS$( ((PEERS)) && echo ' --peers')\` ($RUNS runs, corpus of $N_MIG migrations)"
}

# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------
# Row 33 compiles its own clone: alone, it needs no release build.
if [[ $ROWS != 33 ]]; then build_schemagate; fi
MAIN_BIN=$SG_BIN
if row_on 6; then build_warp_hello; fi

# everything temporary (image, mount point, corpus, backups, dumps) lives under TMP_ROOT
TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/schemagate-bench.XXXXXX")
chmod 755 "$TMP_ROOT"
if [[ -n $EXISTING_URL ]]; then
    BASE_URL=$EXISTING_URL
    psql -X -qAt -d "$(url_for_db postgres)" -c "SELECT 1" >/dev/null || die "cannot connect to $EXISTING_URL"
else
    start_cluster
fi
gen_corpus
SG_BACKUPS=$TMP_ROOT/backups
mkdir -p "$SG_BACKUPS"
find_peers

if row_on 1 || row_on 2 || row_on 3 || row_on 4 || row_on 6 || row_on 8; then
    probe_schemagate_migrations
fi
gen_psql_rollback "$RB_TARGET"
if row_on 1 || row_on 2 || row_on 3; then
    probe_peers
    suite_migrations
fi
# row 4 keys its sample so that cell() recognises a schemagate figure
if row_on 4; then
    suite_herd
    SAMPLES[herd_many_sg]=${SAMPLES[herd_many]:-}
    SAMPLES[herd_many_sg_cmp]=${SAMPLES[herd_many_cmp]:-}
fi
if row_on 5; then suite_backup; fi
if row_on 6 || row_on 7; then suite_http; fi
if row_on 8; then suite_tls; fi
if ((SG_OK)) && [[ -z $PG_MAJOR && -z $CMP_BIN ]] && { row_on 1 || row_on 9; }; then suite_scale; fi
if ((SG_OK)) && row_on 10; then suite_ts_apply; fi
if row_on 11; then suite_split; fi
if ((SG_OK)) && row_on 14; then suite_embed; fi
if ((SG_OK)) && row_on 16; then suite_fleet; fi
if ((SG_OK)) && row_on 17; then suite_dry_run; fi
if ((SG_OK)) && row_on 18; then suite_atomic; fi
if ((SG_OK)) && row_on 21; then suite_realistic; fi
if ((SG_OK)) && row_on 22; then suite_memory; fi
if ((SG_OK)) && { row_on 30 || row_on 31 || row_on 32; }; then suite_sqlite; fi
if row_on 33; then suite_quickstart; fi
if ((SG_OK)) && row_on 23; then suite_mariadb; fi
if ((SG_OK)) && row_on 24; then suite_drift; fi
if ((SG_OK)) && row_on 25; then suite_verify; fi

TABLE=$(print_table)
printf '%s\n' "$TABLE"
if [[ -n $CMP_BIN ]]; then
    printf '\nschemagate: %s; --compare-bin: %s\n\n' "$MAIN_BIN" "$CMP_BIN"
    print_compare_table
fi

if [[ -n ${NOTE[sqlx_loop]:-} ]]; then
    log "note: this sqlx-cli has no --target-version, so its rollback is one invocation per migration"
fi
for k in "${!NOTE[@]}"; do
    [[ $k == bad* ]] && log "WARNING: ${NOTE[$k]}"
done

if ((SAVE)); then
    {
        echo "# bench/run.sh results"
        echo
        echo "Latest table from \`bench/run.sh\` (see bench/README.md for what each row means)."
        echo "Figures are medians of $RUNS runs; baselines are measured in the same runs, interleaved;"
        echo "ratio = schemagate ÷ baseline (for req/s higher is better, elsewhere lower is better)."
        echo
        echo "## Machine"
        echo
        machine_description
        echo
        echo "## Table"
        echo
        printf '%s\n' "$TABLE"
    } >"$BENCH_DIR/RESULTS.md"
    log "wrote bench/RESULTS.md"
fi
log "logs of every command are in bench/.last-run/"
