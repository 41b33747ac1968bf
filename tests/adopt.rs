//! `adopt --from TOOL` (issue 12 item 3): a database another tool migrated is taken over.
//! Each tool's table is built exactly as the tool builds it (its DDL from its source, its
//! rows as it writes them, the migrations' SQL run as it runs them); then adopt records the
//! right versions, refuses dirty or failed rows, versions the catalogue lacks and changed
//! files with what to do and nothing changed, and the database migrates and rolls back
//! like any other.

use sha2::{Digest, Sha384};
use tokio_postgres::Client;

use crate::support::{Project, Snapshot, TestDb};

/// Timestamp versions, as sqlx-cli, dbmate, goose and golang-migrate name files.
const V: [i64; 3] = [20_240_120_120_000, 20_240_121_120_000, 20_240_122_120_000];

/// The up SQL of migration `n` (1-based); `crlf` writes it with CRLF line endings.
fn up_sql(n: usize, crlf: bool) -> String {
    let sql = format!(
        "CREATE TABLE t{n} (\n    id int PRIMARY KEY\n);\nCREATE INDEX t{n}_id ON t{n} (id);\n"
    );
    if crlf { sql.replace('\n', "\r\n") } else { sql }
}

/// A project whose migrations are `{version}_create_t{n}.up.sql` + `.down.sql` for the
/// given versions (the second one written with CRLF endings), window over all of them.
fn timestamped(versions: &[i64]) -> Project {
    let project = Project::new();
    for (i, version) in versions.iter().enumerate() {
        let n = i + 1;
        let base = project.migrations().join(format!("{version}_create_t{n}"));
        std::fs::write(base.with_extension("up.sql"), up_sql(n, n == 2)).unwrap();
        std::fs::write(
            base.with_extension("down.sql"),
            format!("DROP TABLE t{n};\n"),
        )
        .unwrap();
    }
    project.compat(versions[0], *versions.last().unwrap());
    project
}

/// A project in Flyway's naming (`V1__create_t1.sql`), versions 1 to 3, the second file CRLF.
fn flyway_project() -> Project {
    let project = Project::new();
    for n in 1..=3 {
        let name = format!("V{n}__create_t{n}");
        std::fs::write(
            project.migrations().join(format!("{name}.sql")),
            up_sql(n, n == 2),
        )
        .unwrap();
        std::fs::write(
            project.migrations().join(format!("{name}.down.sql")),
            format!("DROP TABLE t{n};\n"),
        )
        .unwrap();
    }
    project.compat(1, 3);
    project
}

/// The SQL of a project file, as the tool reads it (bytes as written).
fn file_sql(project: &Project, file: &str) -> String {
    std::fs::read_to_string(project.migrations().join(file)).unwrap()
}

/// Flyway's checksum as flyway-core computes it: a `BufferedReader` over the file, each
/// `readLine()` (which ends a line at `\n`, `\r\n` or `\r` and drops it) fed as UTF-8 to
/// one CRC32, the first line without its byte-order mark, cast to a Java `int`.
fn flyway_checksum(text: &str) -> i32 {
    let mut crc = crc32fast::Hasher::new();
    let mut rest = text;
    let mut first = true;
    while !rest.is_empty() {
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let mut line = &rest[..end];
        if first {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
            first = false;
        }
        crc.update(line.as_bytes());
        rest = &rest[end..];
        rest = rest
            .strip_prefix("\r\n")
            .or_else(|| rest.strip_prefix('\n'))
            .or_else(|| rest.strip_prefix('\r'))
            .unwrap_or(rest);
    }
    i32::from_be_bytes(crc.finalize().to_be_bytes())
}

/// The rows of one table, as text, in order (to show a tool's table is left as it was).
async fn rows_of(client: &Client, table: &str) -> Vec<String> {
    client
        .query(&format!("SELECT t::text FROM {table} t ORDER BY 1"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The audit trail's `action outcome` lines.
async fn audit(client: &Client) -> Vec<String> {
    client
        .query("SELECT action || ' ' || from_version || '->' || to_version || ' ' || (backup_file IS NOT NULL) || ' ' || outcome FROM schemagate_audit ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Runs adopt, expecting a refusal with `code` whose message contains every `needle`, and
/// nothing changed: not the database (the tool's table included), not the backups.
async fn refused(db: &TestDb, project: &Project, from: &str, code: i32, needles: &[&str]) {
    let before = Snapshot::take(&db.url, &project.backups()).await;
    let run = project.run(&db.url, &["adopt", "--from", from]).await;
    run.expect_code(code);
    for needle in needles {
        assert!(
            run.text().contains(needle),
            "no {needle:?} in:\n{}",
            run.text()
        );
    }
    run.expect_text("nothing was changed");
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);
}

/// Adopts, migrates to the newest version and rolls back to `back_to`, checking the
/// history at each step.
async fn adopt_migrate_roll_back(
    db: &TestDb,
    project: &Project,
    from: &str,
    adopted: &[i64],
    all: &[i64],
    back_to: i64,
) {
    project
        .run(&db.url, &["adopt", "--from", from])
        .await
        .expect_code(0)
        .expect_text("was left as it was");
    assert_eq!(db.history().await, adopted);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, all);
    project
        .run(
            &db.url,
            &["--rollback-to", &back_to.to_string(), "--no-backup"],
        )
        .await
        .expect_code(0);
    assert_eq!(
        db.history().await,
        all.iter()
            .copied()
            .filter(|v| *v <= back_to)
            .collect::<Vec<_>>()
    );
}

// ---- sqlx ----

/// sqlx-postgres `migrate.rs`: its table, and each migration run with its row inserted in
/// one transaction (checksum = SHA-384 of the file as read), `execution_time` set after.
async fn sqlx_applies(client: &mut Client, project: &Project, upto: usize, failed_last: bool) {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
);",
        )
        .await
        .unwrap();
    for (i, version) in V.iter().enumerate().take(upto) {
        let n = i + 1;
        let sql = file_sql(project, &format!("{version}_create_t{n}.up.sql"));
        let checksum = Sha384::digest(sql.as_bytes()).to_vec();
        let success = !(failed_last && n == upto);
        let tx = client.transaction().await.unwrap();
        tx.batch_execute(&sql).await.unwrap();
        tx.execute(
            "INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) VALUES ( $1, $2, $3, $4, -1 )",
            &[version, &format!("create t{n}"), &success, &checksum],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        client
            .execute(
                "UPDATE _sqlx_migrations SET execution_time = $1 WHERE version = $2",
                &[&1_234_567_i64, version],
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_sqlx_database_is_adopted_with_checksums_checked_then_migrates_and_rolls_back() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    let mut client = db.client().await;
    sqlx_applies(&mut client, &project, 2, false).await;
    let tool_rows = rows_of(&client, "_sqlx_migrations").await;

    let before = Snapshot::take(&db.url, &project.backups()).await;
    let dry = project
        .run(&db.url, &["adopt", "--from", "sqlx", "--dry-run"])
        .await;
    dry.expect_code(0);
    for expected in [
        "_sqlx_migrations → refinery_schema_history, 2 migration(s)",
        "20240120120000 → ",
        "20240121120000_create_t2.up.sql (sha-384 checksum matches)",
        "dry run: nothing was changed",
    ] {
        assert!(
            dry.text().contains(expected),
            "no {expected:?} in:\n{}",
            dry.text()
        );
    }
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);

    adopt_migrate_roll_back(&db, &project, "sqlx", &V[..2], &V, V[0]).await;
    assert_eq!(rows_of(&client, "_sqlx_migrations").await, tool_rows);
    let trail = audit(&client).await;
    assert_eq!(
        trail[0],
        format!(
            "adopt 0->{} true ok: adopted from sqlx (_sqlx_migrations), 2 migration(s)",
            V[1]
        )
    );
}

#[tokio::test]
async fn a_failed_sqlx_migration_is_refused_with_what_to_do() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    sqlx_applies(&mut db.client().await, &project, 2, true).await;
    refused(
        &db,
        &project,
        "sqlx",
        3,
        &[
            "_sqlx_migrations",
            "20240121120000",
            "success = false",
            "delete that row",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_sqlx_migration_edited_after_it_was_applied_is_refused_naming_the_file() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    sqlx_applies(&mut db.client().await, &project, 2, false).await;
    let file = project
        .migrations()
        .join(format!("{}_create_t1.up.sql", V[0]));
    std::fs::write(&file, "CREATE TABLE t1 (id bigint PRIMARY KEY);\n").unwrap();
    refused(
        &db,
        &project,
        "sqlx",
        3,
        &[
            "20240120120000_create_t1.up.sql",
            "sqlx checksum",
            "Restore",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_applied_version_the_catalogue_lacks_is_refused_naming_it() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    sqlx_applies(&mut db.client().await, &project, 3, false).await;
    for suffix in ["up", "down"] {
        std::fs::remove_file(
            project
                .migrations()
                .join(format!("{}_create_t3.{suffix}.sql", V[2])),
        )
        .unwrap();
    }
    project.compat(V[0], V[1]);
    refused(
        &db,
        &project,
        "sqlx",
        3,
        &[
            "version 20240122120000 is applied",
            "no migration 20240122120000",
            "Add its file",
        ],
    )
    .await;
}

// ---- golang-migrate ----

/// golang-migrate database/postgres `postgres.go`: `ensureVersionTable`, then per
/// migration `SetVersion(v, true)`, the SQL, `SetVersion(v, false)`; each `SetVersion`
/// truncates and inserts in one transaction. `dirty_last` stops before the last clean-up.
async fn golang_migrate_applies(
    client: &mut Client,
    project: &Project,
    upto: usize,
    dirty_last: bool,
) {
    client
        .batch_execute(r#"CREATE TABLE IF NOT EXISTS "public"."schema_migrations" (version bigint not null primary key, dirty boolean not null)"#)
        .await
        .unwrap();
    let set_version = |version: i64, dirty: bool| {
        format!(
            r#"BEGIN; TRUNCATE "public"."schema_migrations"; INSERT INTO "public"."schema_migrations" (version, dirty) VALUES ({version}, {dirty}); COMMIT;"#
        )
    };
    for (i, version) in V.iter().enumerate().take(upto) {
        let n = i + 1;
        client
            .batch_execute(&set_version(*version, true))
            .await
            .unwrap();
        client
            .batch_execute(&file_sql(project, &format!("{version}_create_t{n}.up.sql")))
            .await
            .unwrap();
        if !(dirty_last && n == upto) {
            client
                .batch_execute(&set_version(*version, false))
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn a_golang_migrate_database_is_adopted_up_to_its_version_then_migrates_and_rolls_back() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    let mut client = db.client().await;
    golang_migrate_applies(&mut client, &project, 2, false).await;
    let dry = project
        .run(&db.url, &["adopt", "--from", "golang-migrate", "--dry-run"])
        .await;
    dry.expect_code(0);
    dry.expect_text("≤ 20240121120000 (current version) → ");
    adopt_migrate_roll_back(&db, &project, "golang-migrate", &V[..2], &V, V[1]).await;
    assert_eq!(
        rows_of(&client, "schema_migrations").await,
        [format!("({},f)", V[1])]
    );
}

#[tokio::test]
async fn a_dirty_golang_migrate_version_is_refused_with_what_to_do() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    golang_migrate_applies(&mut db.client().await, &project, 2, true).await;
    refused(
        &db,
        &project,
        "golang-migrate",
        3,
        &[
            "schema_migrations: version 20240121120000 is dirty",
            "migrate force",
        ],
    )
    .await;
}

// ---- dbmate ----

/// dbmate pkg/driver/postgres `postgres.go`: its table, then each migration and its
/// version row in one transaction.
async fn dbmate_applies(client: &mut Client, project: &Project, versions: &[i64]) {
    client
        .batch_execute(r#"create table if not exists "public"."schema_migrations" (version varchar(255) primary key)"#)
        .await
        .unwrap();
    for (i, version) in versions.iter().enumerate() {
        let n = i + 1;
        let tx = client.transaction().await.unwrap();
        if let Ok(sql) = std::fs::read_to_string(
            project
                .migrations()
                .join(format!("{version}_create_t{n}.up.sql")),
        ) {
            tx.batch_execute(&sql).await.unwrap();
        }
        tx.execute(
            r#"insert into "public"."schema_migrations" (version) values ($1)"#,
            &[&version.to_string()],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn a_dbmate_database_is_adopted_then_migrates_and_rolls_back() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    dbmate_applies(&mut db.client().await, &project, &V[..2]).await;
    adopt_migrate_roll_back(&db, &project, "dbmate", &V[..2], &V, V[0]).await;
}

#[tokio::test]
async fn dbmate_and_golang_migrate_tables_are_told_apart_and_the_wrong_from_refused() {
    let (dbmate, golang) = (TestDb::new().await, TestDb::new().await);
    let project = timestamped(&V);
    dbmate_applies(&mut dbmate.client().await, &project, &V[..1]).await;
    golang_migrate_applies(&mut golang.client().await, &project, 1, false).await;
    refused(
        &dbmate,
        &project,
        "golang-migrate",
        2,
        &[
            "schema_migrations has dbmate's layout (version)",
            "schemagate adopt --from dbmate",
        ],
    )
    .await;
    refused(
        &golang,
        &project,
        "dbmate",
        2,
        &[
            "has golang-migrate's layout (version, dirty)",
            "schemagate adopt --from golang-migrate",
        ],
    )
    .await;
    refused(
        &golang,
        &project,
        "goose",
        3,
        &["there is no table goose_db_version"],
    )
    .await;
}

#[tokio::test]
async fn a_dbmate_version_missing_from_the_catalogue_is_refused() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    // A version dbmate applied from a file this catalogue does not have.
    dbmate_applies(
        &mut db.client().await,
        &project,
        &[V[0], 20_240_119_000_000],
    )
    .await;
    refused(
        &db,
        &project,
        "dbmate",
        3,
        &["version 20240119000000 is applied, but the catalogue"],
    )
    .await;
}

// ---- goose ----

/// goose internal/dialect/dialectquery `postgres.go`: its table and version 0 on creation,
/// then a row per apply; `revert` adds a row with `is_applied = false` (older goose).
async fn goose_applies(client: &mut Client, project: &Project, upto: usize, revert: Option<usize>) {
    client
        .batch_execute(
            "CREATE TABLE goose_db_version (
		id serial NOT NULL,
		version_id bigint NOT NULL,
		is_applied boolean NOT NULL,
		tstamp timestamp NULL default now(),
		PRIMARY KEY(id)
	);
    INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true);",
        )
        .await
        .unwrap();
    for (i, version) in V.iter().enumerate().take(upto) {
        let n = i + 1;
        let tx = client.transaction().await.unwrap();
        tx.batch_execute(&file_sql(project, &format!("{version}_create_t{n}.up.sql")))
            .await
            .unwrap();
        tx.execute(
            "INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, $2)",
            &[version, &true],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    if let Some(n) = revert {
        let tx = client.transaction().await.unwrap();
        tx.batch_execute(&format!("DROP TABLE t{n};"))
            .await
            .unwrap();
        tx.execute(
            "INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, $2)",
            &[&V[n - 1], &false],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn a_goose_database_is_adopted_by_each_versions_newest_row_then_migrates_and_rolls_back() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    goose_applies(&mut db.client().await, &project, 3, Some(3)).await;
    let dry = project
        .run(&db.url, &["adopt", "--from", "goose", "--dry-run"])
        .await;
    dry.expect_code(0);
    assert!(
        dry.text()
            .contains("goose_db_version → refinery_schema_history, 2 migration(s)"),
        "{}",
        dry.text()
    );
    adopt_migrate_roll_back(&db, &project, "goose", &V[..2], &V, V[1]).await;
}

// ---- Flyway ----

/// Flyway's PostgreSQL table (`PostgreSQLDatabase.getRawCreateScript`).
const FLYWAY_TABLE: &str = r#"CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");"#;

/// One row as Flyway writes it.
async fn flyway_row(
    client: &Client,
    rank: i32,
    version: &str,
    kind: &str,
    script: &str,
    checksum: Option<i32>,
    success: bool,
) {
    client
        .execute(
            r#"INSERT INTO "public"."flyway_schema_history" ("installed_rank", "version", "description", "type", "script", "checksum", "installed_by", "execution_time", "success") VALUES ($1, $2, $3, $4, $5, $6, 'postgres', 7, $7)"#,
            &[&rank, &version, &script.replace('_', " "), &kind, &script, &checksum, &success],
        )
        .await
        .unwrap();
}

/// Flyway migrating V1 and V2 (or, with `baseline`, baselining at 1 and migrating V2);
/// `last_failed` records V2 as failed instead.
async fn flyway_applies(client: &Client, project: &Project, baseline: bool, last_failed: bool) {
    client.batch_execute(FLYWAY_TABLE).await.unwrap();
    for n in 1..=2 {
        let script = format!("V{n}__create_t{n}.sql");
        let sql = file_sql(project, &script);
        client.batch_execute(&sql).await.unwrap();
        if n == 1 && baseline {
            flyway_row(
                client,
                1,
                "1",
                "BASELINE",
                "<< Flyway Baseline >>",
                None,
                true,
            )
            .await;
        } else {
            flyway_row(
                client,
                n,
                &n.to_string(),
                "SQL",
                &script,
                Some(flyway_checksum(&sql)),
                !(last_failed && n == 2),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn a_flyway_database_is_adopted_with_crc32_checked_then_migrates_and_rolls_back() {
    let db = TestDb::new().await;
    let project = flyway_project();
    let client = db.client().await;
    flyway_applies(&client, &project, false, false).await;
    // A repeatable migration is reported, not adopted.
    flyway_row(&client, 3, "", "SQL", "R__views.sql", Some(1), true).await;
    client
        .execute(
            r#"UPDATE flyway_schema_history SET version = NULL WHERE installed_rank = 3"#,
            &[],
        )
        .await
        .unwrap();
    let dry = project
        .run(&db.url, &["adopt", "--from", "flyway", "--dry-run"])
        .await;
    dry.expect_code(0);
    for expected in [
        "V2__create_t2.sql (crc-32 checksum matches)",
        "not adopted: R__views.sql",
    ] {
        assert!(
            dry.text().contains(expected),
            "no {expected:?} in:\n{}",
            dry.text()
        );
    }
    adopt_migrate_roll_back(&db, &project, "flyway", &[1, 2], &[1, 2, 3], 1).await;
}

#[tokio::test]
async fn a_flyway_baseline_counts_every_version_up_to_it_as_applied() {
    let db = TestDb::new().await;
    let project = flyway_project();
    flyway_applies(&db.client().await, &project, true, false).await;
    adopt_migrate_roll_back(&db, &project, "flyway", &[1, 2], &[1, 2, 3], 2).await;
}

#[tokio::test]
async fn a_failed_flyway_migration_and_a_changed_file_are_refused_with_what_to_do() {
    let (failed, changed) = (TestDb::new().await, TestDb::new().await);
    let project = flyway_project();
    flyway_applies(&failed.client().await, &project, false, true).await;
    refused(
        &failed,
        &project,
        "flyway",
        3,
        &[
            "flyway_schema_history: version 2 is failed",
            "flyway repair",
        ],
    )
    .await;
    flyway_applies(&changed.client().await, &project, false, false).await;
    std::fs::write(
        project.migrations().join("V1__create_t1.sql"),
        "CREATE TABLE t1 (id bigint);\n",
    )
    .unwrap();
    refused(
        &changed,
        &project,
        "flyway",
        3,
        &["V1__create_t1.sql", "flyway checksum"],
    )
    .await;
}

// ---- any tool ----

#[tokio::test]
async fn a_database_that_already_has_our_history_is_refused() {
    let db = TestDb::new().await;
    let project = timestamped(&V);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    sqlx_applies(&mut db.client().await, &project, 0, false).await;
    refused(
        &db,
        &project,
        "sqlx",
        3,
        &["already has a migration history"],
    )
    .await;
}
