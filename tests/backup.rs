//! Pre-migration backups (issue 3), against the real server and the real pg_dump/pg_restore.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{
    Project, Run, TestDb, files, pg_dump_text, pg_program, send_signal, server_major,
    with_user_password,
};

/// The dumps (`*.dump`) in a directory, sorted; none when it does not exist.
fn dumps(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|name| name.ends_with(".dump"))
        .collect()
}

/// An executable shell script in the project directory.
fn script(project: &Project, name: &str, body: &str) -> PathBuf {
    let path = project.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A fake pg_dump that answers `--version` like the real one of the server's major, then
/// runs `body`.
async fn fake_pg_dump(project: &Project, name: &str, body: &str) -> String {
    let major = server_major().await;
    script(
        project,
        name,
        &format!(
            "if [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) {major}.99'; exit 0; fi\n{body}"
        ),
    )
    .display()
    .to_string()
}

/// The real pg_dump of the server's major version.
async fn real_pg_dump() -> String {
    pg_program("pg_dump").await.display().to_string()
}

/// `pg_dump --schema-only` as text, without the per-run `\restrict` key lines.
async fn schema_dump(url: &str) -> String {
    pg_dump_text(url, &["--schema-only"]).await
}

/// The manifest of the only backup in the directory.
fn only_manifest(dir: &Path) -> (PathBuf, serde_json::Value) {
    let dumps = dumps(dir);
    assert_eq!(dumps.len(), 1, "{:?}", files(dir));
    let dump = dir.join(&dumps[0]);
    let json = std::fs::read_to_string(format!("{}.json", dump.display())).unwrap();
    (dump, serde_json::from_str(&json).unwrap())
}

/// A project at schema 2 with rows in t1, and migrations 3 and 4 pending under window [1, 4].
async fn at_schema_2(db: &TestDb) -> Project {
    let project = Project::with_tables(4, 1, 2);
    project.migrate_no_backup(&db.url).await;
    db.execute("INSERT INTO t1 VALUES (1), (2), (3)").await;
    project.compat(1, 4);
    project
}

#[tokio::test]
async fn a_migration_leaves_one_verified_backup_whose_restore_reproduces_the_schema_before_it() {
    let db = TestDb::new().await;
    let project = at_schema_2(&db).await;
    let before = schema_dump(&db.url).await;
    let run = project.run(&db.url, &["migrate"]).await;
    run.expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3, 4]);

    let dir = project.backups();
    let (dump, manifest) = only_manifest(&dir);
    let name = dump.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(&format!("{}-schema2-", db.name)), "{name}");
    assert!(run.text().contains(name), "{}", run.text());
    assert_eq!(manifest["schema_version"], 2);
    assert_eq!(manifest["app_version"], "v1.0.0");
    assert_eq!(manifest["database"], db.name.as_str());
    assert_eq!(manifest["file"], name);
    let bytes = std::fs::read(&dump).unwrap();
    assert_eq!(manifest["size_bytes"], bytes.len());
    assert_eq!(manifest["sha256"], hex::encode(sha2_digest(&bytes)));
    assert!(manifest["duration_seconds"].as_f64().unwrap() > 0.0);
    let major = server_major().await;
    let pg_dump_version = manifest["pg_dump_version"].as_str().unwrap();
    assert!(
        pg_dump_version.contains(&format!("(PostgreSQL) {major}.")),
        "{pg_dump_version}"
    );
    let server_version = manifest["server_version"].as_str().unwrap();
    assert!(
        server_version.starts_with(&format!("{major}.")),
        "{server_version}"
    );
    let created_at = manifest["created_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339)
            .is_ok()
            && created_at.ends_with('Z'),
        "{created_at}"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dump), 0o600);
    assert_eq!(
        mode(&PathBuf::from(format!("{}.json", dump.display()))),
        0o600
    );
    assert_eq!(
        files(&dir).len(),
        2,
        "no partial file left: {:?}",
        files(&dir)
    );

    // Restored into a fresh database (another database: said so), it is the database
    // before the migration.
    let fresh = TestDb::new().await;
    project
        .run(
            &fresh.url,
            &[
                "restore",
                dump.to_str().unwrap(),
                "--into-other-database",
                "--yes",
            ],
        )
        .await
        .expect_code(0);
    assert_eq!(schema_dump(&fresh.url).await, before);
    assert_eq!(fresh.history().await, [1, 2]);
    let rows = fresh
        .client()
        .await
        .query("SELECT id FROM t1 ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

/// SHA-256 of bytes.
fn sha2_digest(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).to_vec()
}

#[tokio::test]
async fn nothing_pending_takes_no_backup() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    project.migrate_no_backup(&db.url).await;
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    project.run(&db.url, &["plan"]).await.expect_code(0);
    assert!(files(&project.backups()).is_empty());
}

#[tokio::test]
async fn no_backup_skips_it_with_a_warning() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    let run = project.run(&db.url, &["migrate", "--no-backup"]).await;
    run.expect_code(0);
    assert!(
        run.text().contains("WARN") && run.text().contains("WITHOUT a backup"),
        "{}",
        run.text()
    );
    assert_eq!(db.history().await, [1, 2]);
    assert!(files(&project.backups()).is_empty());
}

#[tokio::test]
async fn every_kind_of_pg_dump_failure_exits_5_leaves_no_file_and_migrates_nothing() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    let major = server_major().await;
    let cases = [
        (
            fake_pg_dump(
                &project,
                "fails.sh",
                "printf 'PGDMP half an archive'; echo 'pg_dump: error: simulated disk trouble' >&2; exit 1",
            )
            .await,
            "simulated disk trouble".to_owned(),
            &[][..],
        ),
        (
            fake_pg_dump(&project, "killed.sh", "printf 'PGDMP half'; kill -9 $$").await,
            "signal: 9".to_owned(),
            &[],
        ),
        (
            fake_pg_dump(&project, "hangs.sh", "printf 'PGDMP'; exec sleep 600").await,
            "did not finish within 2s".to_owned(),
            &["--backup-timeout", "2s"],
        ),
        (
            fake_pg_dump(
                &project,
                "truncated.sh",
                &format!("{} \"$@\" | head -c 300; exit 0", real_pg_dump().await),
            )
            .await,
            "verification failed".to_owned(),
            &[],
        ),
        (
            script(
                &project,
                "old.sh",
                &format!("echo 'pg_dump (PostgreSQL) {}.11'; exit 0", major - 1),
            )
            .display()
            .to_string(),
            format!("install the PostgreSQL {major} client"),
            &[],
        ),
        (
            project.path().join("missing").display().to_string(),
            format!("no pg_dump of PostgreSQL {major} found"),
            &[],
        ),
    ];
    for (pg_dump, expected, extra) in cases {
        let started = Instant::now();
        let mut args = vec!["migrate", "--pg-dump", &pg_dump];
        args.extend_from_slice(extra);
        let run = project.run(&db.url, &args).await;
        run.expect_code(5);
        assert!(run.text().contains(&expected), "{pg_dump}: {}", run.text());
        assert!(started.elapsed() < Duration::from_secs(30), "{pg_dump}");
        assert!(dumps(&project.backups()).is_empty(), "{pg_dump}");
        assert!(
            files(&project.backups()).is_empty(),
            "{pg_dump}: {:?}",
            files(&project.backups())
        );
        assert!(db.history().await.is_empty(), "{pg_dump}");
        assert!(db.tables().await.is_empty(), "{pg_dump}");
    }
}

#[tokio::test]
async fn an_unwritable_backup_directory_exits_5_and_migrates_nothing() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    // Tests may run as root, which ignores permission bits: a directory under a regular
    // file cannot be created by anyone.
    let blocker = project.path().join("not-a-directory");
    std::fs::write(&blocker, "").unwrap();
    let dir = blocker.join("backups");
    let run = project
        .run(&db.url, &["migrate", "--backup-dir", dir.to_str().unwrap()])
        .await;
    run.expect_code(5);
    run.expect_text("cannot create the backup directory");
    assert!(db.history().await.is_empty());
    assert!(db.tables().await.is_empty());
}

#[tokio::test]
async fn the_password_reaches_pg_dump_only_through_an_inherited_in_memory_passfile() {
    let db = TestDb::new().await;
    let admin = db.client().await;
    admin
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE sg_secret_user LOGIN PASSWORD 'hunter2'; EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
             GRANT ALL ON SCHEMA public TO sg_secret_user",
        )
        .await
        .unwrap();
    let url = with_user_password(&db.url, "sg_secret_user", "hunter2");
    assert!(
        url.contains(":hunter2@"),
        "the fixture URL carries the password: {url}"
    );
    let project = Project::with_tables(1, 1, 1);
    let seen = project.path().join("seen");
    let spy = fake_pg_dump(
        &project,
        "spy.sh",
        &format!(
            "tr '\\0' ' ' < /proc/$$/cmdline > {seen}.argv; env > {seen}.env; \
             {{ stat -L -c '%a' \"$PGPASSFILE\"; readlink \"$PGPASSFILE\"; }} > {seen}.modes; \
             cat \"$PGPASSFILE\" > {seen}.pgpass; exec {real} \"$@\"",
            seen = seen.display(),
            real = real_pg_dump().await,
        ),
    )
    .await;
    let run = project.run(&url, &["migrate", "--pg-dump", &spy]).await;
    run.expect_code(0);
    let argv = std::fs::read_to_string(seen.with_extension("argv")).unwrap();
    let env = std::fs::read_to_string(seen.with_extension("env")).unwrap();
    assert!(
        argv.contains("--format=custom") && !argv.contains("hunter2"),
        "{argv}"
    );
    assert!(
        !env.contains("hunter2") && !env.contains("PGPASSWORD"),
        "the password is not in the environment: {env}"
    );
    let passfile = env
        .lines()
        .find_map(|l| l.strip_prefix("PGPASSFILE="))
        .expect("PGPASSFILE names the private passfile");
    assert_eq!(
        std::fs::read_to_string(seen.with_extension("pgpass")).unwrap(),
        "*:*:*:*:hunter2\n"
    );
    let modes = std::fs::read_to_string(seen.with_extension("modes")).unwrap();
    assert!(
        passfile.starts_with("/proc/self/fd/")
            && modes.starts_with("600\n/memfd:schemagate-pgpass"),
        "the passfile is an inherited 0600 in-memory file, never on disk: {passfile} {modes}"
    );
    assert!(
        env.contains("PGUSER=sg_secret_user") && env.contains(&format!("PGDATABASE={}", db.name))
    );
    assert!(!run.text().contains("hunter2"), "{}", run.text());
    let (_, manifest) = only_manifest(&project.backups());
    assert!(!manifest.to_string().contains("hunter2"));
}

#[tokio::test]
async fn retention_keeps_the_newest_of_each_schema_version_and_never_foreign_files() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 1);
    project.migrate_no_backup(&db.url).await;
    let dir = project.backups();
    std::fs::create_dir_all(&dir).unwrap();
    let foreign = ["notes.txt", "other-schema1-20200101T000000.000Z.dump"];
    for name in foreign {
        std::fs::write(dir.join(name), "not ours").unwrap();
    }
    let keep_one = ["--backup-keep", "1"];
    for _ in 0..3 {
        project
            .run(&db.url, &[&["backup"][..], &keep_one].concat())
            .await
            .expect_code(0);
    }
    let schema1 = dumps(&dir)
        .into_iter()
        .filter(|n| n.starts_with(&db.name))
        .collect::<Vec<_>>();
    assert_eq!(schema1.len(), 1, "{:?}", files(&dir));
    // Migrating to 2 backs up schema 1; a backup at 2 then exceeds keep=1, but each is
    // the newest of its schema version.
    project.compat(1, 2);
    project
        .run(&db.url, &[&["migrate"][..], &keep_one].concat())
        .await
        .expect_code(0);
    let run = project
        .run(&db.url, &[&["backup"][..], &keep_one].concat())
        .await;
    run.expect_code(0);
    let ours: Vec<String> = dumps(&dir)
        .into_iter()
        .filter(|n| n.starts_with(&db.name))
        .collect();
    assert_eq!(ours.len(), 2, "{:?}", files(&dir));
    assert!(
        ours[0].contains("-schema1-") && ours[1].contains("-schema2-"),
        "{ours:?}"
    );
    assert!(
        !ours.contains(&schema1[0]),
        "the older schema-1 backup was pruned"
    );
    for name in foreign {
        assert!(dir.join(name).exists(), "{name} was touched");
    }
    assert_eq!(
        files(&dir).len(),
        2 * 2 + foreign.len(),
        "{:?}",
        files(&dir)
    );
}

#[tokio::test]
async fn backups_json_lists_them_newest_first() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 1);
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    project.compat(1, 2);
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    let run = project.run(&db.url, &["backups", "--json"]).await;
    run.expect_code(0);
    let listed: serde_json::Value = serde_json::from_slice(&run.0.stdout).unwrap();
    let versions: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["schema_version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 0]);
    let first = &listed[0];
    assert!(first["path"].as_str().unwrap().ends_with(".dump"));
    assert!(first["sha256"].as_str().unwrap().len() == 64);
    assert!(first["age_seconds"].as_u64().is_some());
    let table = project.run(&db.url, &["backups"]).await;
    table.expect_code(0);
    assert!(String::from_utf8_lossy(&table.0.stdout).contains("-schema1-"));
}

/// Takes a backup at schema 2 (rows in t1), then migrates to 4 and changes data.
async fn backed_up_at_2_then_moved_on(db: &TestDb) -> (Project, PathBuf, String) {
    let project = at_schema_2(db).await;
    project.run(&db.url, &["backup"]).await.expect_code(0);
    let at_2 = schema_dump(&db.url).await;
    let dump = project.backups().join(&dumps(&project.backups())[0]);
    project.migrate_no_backup(&db.url).await;
    db.execute("INSERT INTO t1 VALUES (99); INSERT INTO t3 VALUES (1); CREATE SCHEMA extra; CREATE TABLE extra.x (id int)").await;
    (project, dump, at_2)
}

#[tokio::test]
async fn restore_brings_the_database_back_exactly_to_the_dump() {
    let db = TestDb::new().await;
    let (project, dump, at_2) = backed_up_at_2_then_moved_on(&db).await;
    assert_eq!(db.tables().await, ["t1", "t2", "t3", "t4"]);
    let run = project
        .run(&db.url, &["restore", dump.to_str().unwrap(), "--yes"])
        .await;
    run.expect_code(0);
    run.expect_text("history now says schema 2");
    assert_eq!(db.tables().await, ["t1", "t2"]);
    assert_eq!(db.history().await, [1, 2]);
    assert_eq!(
        schema_dump(&db.url).await,
        at_2,
        "the schema is the dump's, exactly"
    );
    let client = db.client().await;
    let ids: Vec<i32> = client
        .query("SELECT id FROM t1 ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    let extra = client
        .query("SELECT 1 FROM pg_namespace WHERE nspname = 'extra'", &[])
        .await
        .unwrap();
    assert!(extra.is_empty(), "a schema created after the dump survived");
    // The gate is happy again and would migrate to 4 once more.
    project.run(&db.url, &["check"]).await.expect_code(0);
}

#[tokio::test]
async fn restore_without_yes_prints_the_plan_exits_2_and_changes_nothing() {
    let db = TestDb::new().await;
    let (project, dump, _) = backed_up_at_2_then_moved_on(&db).await;
    let run = project
        .run(&db.url, &["restore", dump.to_str().unwrap()])
        .await;
    run.expect_code(2);
    let text = run.text();
    assert!(
        text.contains("drop schema(s) extra, public") && text.contains("--yes"),
        "{text}"
    );
    assert_eq!(db.tables().await, ["t1", "t2", "t3", "t4"]);
    assert_eq!(db.history().await, [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_backup_whose_checksum_differs_from_its_manifest_is_refused() {
    let db = TestDb::new().await;
    let (project, dump, _) = backed_up_at_2_then_moved_on(&db).await;
    let mut bytes = std::fs::read(&dump).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&dump, bytes).unwrap();
    let run = project
        .run(&db.url, &["restore", dump.to_str().unwrap(), "--yes"])
        .await;
    run.expect_code(5);
    run.expect_text("sha256");
    assert_eq!(db.tables().await, ["t1", "t2", "t3", "t4"]);
    assert_eq!(db.history().await, [1, 2, 3, 4]);
}

/// Runs the binary, failing the test when it has not finished within `limit`.
async fn run_within(project: &Project, url: &str, args: &[&str], limit: Duration) -> Run {
    let output = tokio::time::timeout(limit, project.command(url, args).output())
        .await
        .unwrap_or_else(|_| panic!("{args:?} still running after {limit:?}"));
    Run(output.unwrap())
}

/// Makes a FIFO at `path`.
async fn mkfifo(path: &Path) {
    let status = tokio::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A sparse file of 64 GiB named like a dump, in a directory `huge` of the project, with
/// the manifest of `dump` beside it (its `size_bytes` set to `size` when given): hashing it
/// whole would take a minute. Returns the file and the manifest as `dump` has it.
fn huge_dump(project: &Project, dump: &Path, size: Option<u64>) -> (PathBuf, serde_json::Value) {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", dump.display())).unwrap())
            .unwrap();
    let dir = project.path().join("huge");
    std::fs::create_dir(&dir).unwrap();
    let huge = dir.join("app-schema2-20260101T000000.000Z.dump");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let mut beside = manifest.clone();
    if let Some(size) = size {
        beside["size_bytes"] = size.into();
    }
    std::fs::write(format!("{}.json", huge.display()), beside.to_string()).unwrap();
    (huge, manifest)
}

#[tokio::test]
async fn restore_refuses_a_dump_or_manifest_that_is_not_a_regular_file_at_once() {
    let db = TestDb::new().await;
    let (project, dump, _) = backed_up_at_2_then_moved_on(&db).await;
    let manifest = std::fs::read(format!("{}.json", dump.display())).unwrap();
    let odd = project.path().join("odd");
    std::fs::create_dir(&odd).unwrap();
    let with_manifest = |name: &str| {
        let path = odd.join(name);
        std::fs::write(format!("{}.json", path.display()), &manifest).unwrap();
        path
    };
    let zero = with_manifest("zero.dump");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = with_manifest("fifo.dump");
    mkfifo(&fifo).await;
    let directory = with_manifest("directory.dump");
    std::fs::create_dir(&directory).unwrap();
    let good = odd.join("good.dump");
    std::fs::copy(&dump, &good).unwrap();
    let fifo_manifest = odd.join("good.dump.json");
    mkfifo(&fifo_manifest).await;
    for (file, named, kind) in [
        (&zero, &zero, "a character device"),
        (&fifo, &fifo, "a FIFO (named pipe)"),
        (&directory, &directory, "a directory"),
        (&good, &fifo_manifest, "a FIFO (named pipe)"),
    ] {
        let run = run_within(
            &project,
            &db.url,
            &["restore", file.to_str().unwrap(), "--yes"],
            Duration::from_secs(10),
        )
        .await;
        run.expect_code(2);
        assert!(
            run.text().contains(&format!(
                "{} is {kind}, not a regular file",
                named.display()
            )),
            "{}",
            run.text()
        );
    }
    assert_eq!(db.tables().await, ["t1", "t2", "t3", "t4"]);
    assert_eq!(db.history().await, [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_dump_whose_size_differs_from_its_manifest_is_refused_before_it_is_read() {
    let db = TestDb::new().await;
    let (project, dump, _) = backed_up_at_2_then_moved_on(&db).await;
    let (huge, manifest) = huge_dump(&project, &dump, None);
    let run = run_within(
        &project,
        &db.url,
        &["restore", huge.to_str().unwrap(), "--yes"],
        Duration::from_secs(5),
    )
    .await;
    run.expect_code(5);
    assert!(
        run.text().contains(&format!(
            "{} is 68719476736 bytes but its manifest says {}",
            huge.display(),
            manifest["size_bytes"]
        )),
        "{}",
        run.text()
    );
    assert_eq!(db.history().await, [1, 2, 3, 4]);
}

#[tokio::test]
async fn sigterm_while_a_large_dump_is_hashed_exits_8_within_a_second() {
    let db = TestDb::new().await;
    let (project, dump, _) = backed_up_at_2_then_moved_on(&db).await;
    let (huge, _) = huge_dump(&project, &dump, Some(64 << 30));
    let child = project
        .command(&db.url, &["restore", huge.to_str().unwrap(), "--yes"])
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    // Hashing: the process has read its first 64 MiB (far more than the catalogue and the
    // manifest). The bound is generous because a loaded machine reads slowly; what the test
    // times is the answer to SIGTERM, not the read.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
        let read: u64 = io
            .lines()
            .find_map(|line| line.strip_prefix("rchar: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if read > 64 << 20 {
            break;
        }
        assert!(Instant::now() < deadline, "not hashing after 120 s: {io}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let signalled = Instant::now();
    send_signal(pid, "TERM").await;
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("schemagate stops hashing on SIGTERM")
        .unwrap();
    let took = signalled.elapsed();
    let run = Run(output);
    run.expect_code(8);
    assert!(
        took < Duration::from_secs(1),
        "took {took:?}: {}",
        run.text()
    );
    assert!(
        run.text()
            .contains("stopped by SIGTERM while checking the backup"),
        "{}",
        run.text()
    );
    assert_eq!(db.history().await, [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_compat_file_that_is_not_a_regular_file_of_sane_size_is_refused_naming_it() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let fifo = project.path().join("compat.fifo");
    mkfifo(&fifo).await;
    let large = project.path().join("large.toml");
    std::fs::write(&large, "#".repeat(2 << 20)).unwrap();
    let zero = PathBuf::from("/dev/zero");
    for (file, what) in [
        (
            &fifo,
            "is a FIFO (named pipe), not a regular file".to_owned(),
        ),
        (
            &large,
            format!("is {} bytes, more than the 1048576 bytes", 2 << 20),
        ),
        (
            &zero,
            "is a character device, not a regular file".to_owned(),
        ),
    ] {
        let run = run_within(
            &project,
            &db.url,
            &["check", "--compat", file.to_str().unwrap()],
            Duration::from_secs(10),
        )
        .await;
        run.expect_code(2);
        assert!(
            run.text().contains(&format!("{} {what}", file.display())),
            "{}",
            run.text()
        );
    }
}
