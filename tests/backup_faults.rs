//! Backup faults (issue 7): the backup directory full or read-only, and the real pg_dump
//! killed mid-dump. Each refuses the change with exit 5, migrates nothing, leaves no
//! `.partial`, `.dump` or manifest behind, and the next run, once the fault is gone,
//! migrates with a complete backup. And schemagate itself killed mid-dump, whose partial
//! file (no code of it runs) the next backup removes.
//!
//!
//! And the restore faults (issue 22): pg_restore killed mid-stream, schemagate itself killed
//! mid-restore, a truncated dump whose manifest was rewritten to match. Each time the
//! database is exactly as before (a whole `pg_dump` compared): the restore's transaction
//! is committed only after pg_restore exited 0 and every statement ran.
//!
//! The directory faults need a real file system of their own (root ignores permission bits),
//! so they mount a small tmpfs over the project's backup directory: they need root and
//! `mount`. Without them they fail under `CI=true` and print `SKIPPED` elsewhere
//! (`support::skip_or_fail`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::faults::wait_for_free_lock;
use crate::support::{
    Project, Run, Snapshot, TestDb, files, pg_program, running_as_root, send_signal, session,
    skip_or_fail,
};

/// Gives the dump some weight: a table `filler` of `rows` rows of md5 text (about 22 bytes
/// of dump each, as md5 text compresses about 2:1).
async fn fill(db: &TestDb, rows: u32) {
    let sql = format!(
        "CREATE TABLE filler AS SELECT i AS id, md5(i::text) AS payload FROM generate_series(1, {rows}) i"
    );
    db.client().await.batch_execute(&sql).await.unwrap();
}

#[tokio::test]
async fn a_full_backup_directory_refuses_the_change_and_leaves_no_partial_file() {
    let db = TestDb::new().await;
    // About 1 MiB of dump (md5 text compresses about 2:1), four times the tmpfs.
    let project = Project::with_tables(2, 1, 2);
    project.migrate_first(&db.url, 1, 2).await;
    fill(&db, 50_000).await;
    let Some(backups) = Tmpfs::mount(&project.backups(), "256k", "a_full_backup_directory").await
    else {
        return;
    };

    let run = project.run(&db.url, &["migrate"]).await;
    run.expect_code(5);
    let text = run.text();
    assert!(
        text.contains("cannot write") && text.contains("No space left on device"),
        "{text}"
    );
    assert!(
        text.contains(".partial"),
        "the message names the file: {text}"
    );
    assert_eq!(db.history().await, [1], "{text}");
    assert_eq!(db.tables().await, ["filler", "t1"]);
    assert_eq!(files(backups.path()), Vec::<String>::new(), "nothing left");

    // With room again, the same run migrates and leaves its backup.
    backups.remount("size=64m").await;
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
    assert_complete_backup(backups.path()).await;
}

#[tokio::test]
async fn a_backup_directory_that_fills_up_at_the_manifest_keeps_neither_dump_nor_manifest() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    project.migrate_first(&db.url, 1, 2).await;
    fill(&db, 50_000).await;
    // schemagate's dump is byte for byte `pg_dump --format=custom`: a tmpfs of exactly its
    // pages holds the dump, and the manifest finds no room.
    let pages = plain_dump_size(&db.url).await.div_ceil(4096);
    let Some(backups) = Tmpfs::mount(
        &project.backups(),
        &(pages * 4096).to_string(),
        "a_backup_directory_that_fills_up_at_the_manifest",
    )
    .await
    else {
        return;
    };

    let run = project.run(&db.url, &["migrate"]).await;
    run.expect_code(5);
    let text = run.text();
    assert!(
        text.contains("cannot write the manifest") && text.contains("No space left on device"),
        "{text}"
    );
    assert_eq!(db.history().await, [1], "{text}");
    assert_eq!(db.tables().await, ["filler", "t1"]);
    assert_eq!(files(backups.path()), Vec::<String>::new(), "nothing left");
}

/// The size of a plain `pg_dump --format=custom` of the database.
async fn plain_dump_size(url: &str) -> u64 {
    let output = tokio::process::Command::new(pg_program("pg_dump").await)
        .args(["--format=custom", "--dbname", url])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    output.stdout.len() as u64
}

#[tokio::test]
async fn a_read_only_backup_directory_refuses_the_change_and_leaves_nothing() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    let Some(backups) =
        Tmpfs::mount(&project.backups(), "16m", "a_read_only_backup_directory").await
    else {
        return;
    };
    backups.remount("ro").await;

    // The directory itself read-only, and a missing one that would have to be created there.
    let inside = backups.path().join("nested");
    let cases = [
        (backups.path(), "cannot create"),
        (inside.as_path(), "cannot create the backup directory"),
    ];
    for (dir, expected) in cases {
        let run = project
            .run(&db.url, &["migrate", "--backup-dir", dir.to_str().unwrap()])
            .await;
        run.expect_code(5);
        let text = run.text();
        assert!(
            text.contains(expected) && text.contains("Read-only file system"),
            "{}: {text}",
            dir.display()
        );
        assert!(db.history().await.is_empty(), "{text}");
        assert!(db.tables().await.is_empty(), "{text}");
        assert_eq!(files(backups.path()), Vec::<String>::new(), "nothing left");
    }

    // Writable again: the run migrates and leaves its backup.
    backups.remount("rw").await;
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
    assert_complete_backup(backups.path()).await;
}

#[tokio::test]
async fn pg_dump_killed_mid_dump_refuses_the_change_frees_the_lock_and_the_next_run_backs_up_whole()
{
    let db = TestDb::new().await;
    let client = db.client().await;
    // About 9 MB of dump that takes pg_dump most of a second to compress: time to catch it
    // writing.
    let project = Project::with_tables(2, 1, 2);
    project.migrate_first(&db.url, 1, 2).await;
    fill(&db, 400_000).await;
    let backups = project.backups();

    let child = project.command(&db.url, &["migrate"]).spawn().unwrap();
    let schemagate = child.id().unwrap();
    let (pg_dump, written) = pg_dump_writing(schemagate, &backups).await;
    let kill = tokio::process::Command::new("kill")
        .args(["-KILL", &pg_dump.to_string()])
        .status()
        .await
        .unwrap();
    assert!(kill.success());
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("schemagate exits after pg_dump is killed")
        .unwrap();
    let run = Run(output);
    run.expect_code(5);
    let text = run.text();
    assert!(
        text.contains("pg_dump failed") && text.contains("signal: 9") && text.contains("SIGKILL"),
        "killed after {written} bytes: {text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
    assert_eq!(db.history().await, [1], "{text}");
    assert_eq!(db.tables().await, ["filler", "t1"]);
    assert_eq!(
        files(&backups),
        Vec::<String>::new(),
        "no partial file left"
    );
    wait_for_free_lock(&client, "after pg_dump was killed").await;

    project.run(&db.url, &["migrate"]).await.expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
    assert_eq!(db.tables().await, ["filler", "t1", "t2"]);
    assert_complete_backup(&backups).await;
}

#[tokio::test]
async fn a_partial_file_left_by_schemagate_killed_mid_dump_is_removed_by_the_next_backup() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let project = Project::with_tables(2, 1, 2);
    project.migrate_first(&db.url, 1, 2).await;
    fill(&db, 400_000).await;
    let backups = project.backups();

    // SIGKILL to schemagate itself: no destructor runs, the partial file stays.
    let mut child = project.command(&db.url, &["migrate"]).spawn().unwrap();
    pg_dump_writing(child.id().unwrap(), &backups).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    wait_for_free_lock(&client, "after schemagate was killed mid-dump").await;
    let left = files(&backups);
    assert!(
        left.len() == 1 && left[0].ends_with(".dump.partial"),
        "{left:?}"
    );
    assert_eq!(db.history().await, [1]);

    // Beside it: an old partial a live writer still holds locked, one just created (its
    // writer has not locked it yet), and a file that is not ours.
    let two_minutes_ago = std::time::SystemTime::now() - Duration::from_secs(120);
    let age = |path: &Path| {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(two_minutes_ago)
            .unwrap();
    };
    let crashed = backups.join(&left[0]);
    age(&crashed);
    let live = backups.join(format!(
        ".{}-schema0-20200101T000000.000Z.dump.partial",
        db.name
    ));
    std::fs::write(&live, "PGDMP").unwrap();
    age(&live);
    let live_writer = std::fs::File::open(&live).unwrap();
    live_writer.try_lock().unwrap();
    let fresh = backups.join(format!(
        ".{}-schema0-20200101T000001.000Z.dump.json.partial",
        db.name
    ));
    std::fs::write(&fresh, "{").unwrap();
    let foreign = backups.join(".notes.partial");
    std::fs::write(&foreign, "mine").unwrap();
    age(&foreign);

    let run = project.run(&db.url, &["migrate"]).await;
    run.expect_code(0);
    assert!(
        run.text()
            .contains("removed a partial backup file left by an interrupted run"),
        "{}",
        run.text()
    );
    assert_eq!(db.history().await, [1, 2]);
    assert!(!crashed.exists(), "the dead run's partial file is removed");
    assert!(live.exists() && fresh.exists() && foreign.exists());
    drop(live_writer);
    for path in [&live, &fresh, &foreign] {
        std::fs::remove_file(path).unwrap();
    }
    assert_complete_backup(&backups).await;
}

/// Waits until the pg_dump child of `parent` has written at least 1 MiB of its archive to
/// the partial file in `dir`, so the kill lands mid-dump; its pid and the bytes written.
async fn pg_dump_writing(parent: u32, dir: &Path) -> (u32, u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let written = files(dir)
            .iter()
            .filter(|name| name.ends_with(".partial"))
            .filter_map(|name| std::fs::metadata(dir.join(name)).ok())
            .map(|m| m.len())
            .sum::<u64>();
        if written >= 1 << 20
            && let Some(pid) = child_named(parent, "pg_dump")
        {
            return (pid, written);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no pg_dump of schemagate {parent} was seen writing within 20 s");
}

/// A child process of `parent` whose command name is `name`, from /proc.
fn child_named(parent: u32, name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses: split at the last ')'.
        let (head, tail) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1;
        let ppid: u32 = tail.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent && comm == name).then_some(pid)
    })
}

/// The directory holds exactly one dump and its manifest; the manifest's size and sha256
/// are the file's, and pg_restore reads the archive whole.
async fn assert_complete_backup(dir: &Path) {
    let names = files(dir);
    assert_eq!(names.len(), 2, "one dump and its manifest: {names:?}");
    let dump = dir.join(names.iter().find(|n| n.ends_with(".dump")).unwrap());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", dump.display())).unwrap())
            .unwrap();
    let bytes = std::fs::read(&dump).unwrap();
    assert_eq!(manifest["size_bytes"], bytes.len());
    {
        use sha2::Digest as _;
        assert_eq!(
            manifest["sha256"],
            hex::encode(sha2::Sha256::digest(&bytes))
        );
    }
    let restore = tokio::process::Command::new(pg_program("pg_restore").await)
        .arg("--file=/dev/null")
        .arg(&dump)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(restore.status.success(), "{restore:?}");
}

/// A tmpfs mounted over a directory, unmounted on drop, also when the test panics (the
/// SQLite suite's faults use it too).
pub(crate) struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `path` (created when missing), or says loudly why this
    /// machine cannot: a failure under CI, `None` (the test skips) elsewhere.
    pub(crate) async fn mount(path: &Path, size: &str, test: &str) -> Option<Self> {
        if !running_as_root() {
            skip_or_fail(test, "needs root to mount a tmpfs");
            return None;
        }
        std::fs::create_dir_all(path).unwrap();
        let output = tokio::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(path)
            .kill_on_drop(true)
            .output()
            .await;
        match output {
            Ok(output) if output.status.success() => Some(Self {
                path: path.to_owned(),
            }),
            Ok(output) => {
                skip_or_fail(
                    test,
                    &format!(
                        "cannot mount a tmpfs: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    ),
                );
                None
            }
            Err(error) => {
                skip_or_fail(test, &format!("cannot run mount: {error}"));
                None
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// `mount -o remount,<options>`.
    pub(crate) async fn remount(&self, options: &str) {
        let output = tokio::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "remount,{options}: {output:?}");
    }
}

impl Drop for Tmpfs {
    #[allow(
        clippy::disallowed_types,
        reason = "drop cannot await; umount returns at once"
    )]
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            let mut command = std::process::Command::new("umount");
            if lazy {
                command.arg("--lazy");
            }
            command
                .arg(&self.path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !umount(false) && !umount(true) {
            eprintln!("cannot unmount the tmpfs at {}", self.path.display());
        }
    }
}

/// A database with a `filler` table of 400,000 rows (a script of about 16 MB to replay),
/// backed up at schema 2, then migrated to 4 with rows changed: a restore has plenty to
/// drop and to replay. Returns the project and the dump.
async fn backed_up_with_filler_then_moved_on(db: &TestDb) -> (Project, PathBuf) {
    let project = Project::with_tables(4, 1, 2);
    project.migrate_first(&db.url, 1, 2).await;
    fill(db, 400_000).await;
    project.migrate_no_backup(&db.url).await;
    project.run(&db.url, &["backup"]).await.expect_code(0);
    let dump = first_dump(&project);
    project.compat(1, 4);
    project.migrate_no_backup(&db.url).await;
    db.execute("INSERT INTO t3 VALUES (3); DELETE FROM filler WHERE id % 2 = 0")
        .await;
    (project, dump)
}

/// The whole database as `pg_dump` prints it.
async fn database(db: &TestDb) -> String {
    Snapshot::take(&db.url, Path::new("/nonexistent"))
        .await
        .database
}

/// Asserts the database is exactly `before`, naming the first line that differs (the whole
/// dumps are megabytes).
async fn assert_unchanged(db: &TestDb, before: &str, context: &str) {
    let after = database(db).await;
    if after != before {
        let (line, (was, is)) = before
            .lines()
            .chain(std::iter::repeat("(end)"))
            .zip(after.lines().chain(std::iter::repeat("(end)")))
            .enumerate()
            .find(|(_, (was, is))| was != is)
            .unwrap();
        panic!(
            "the database changed: {} lines before, {} after; line {} was {was:?}, is {is:?}\n{context}",
            before.lines().count(),
            after.lines().count(),
            line + 1
        );
    }
}

/// The first dump (`*.dump`) in the project's backup directory, by name.
fn first_dump(project: &Project) -> PathBuf {
    let backups = project.backups();
    files(&backups)
        .into_iter()
        .find(|name| name.ends_with(".dump"))
        .map(|name| backups.join(name))
        .unwrap()
}

/// Runs `restore dump --yes` with `more` arguments and expects it to leave the database
/// exactly as it was, exit 5 and say that nothing was committed and each of `says`.
async fn restore_commits_nothing(
    db: &TestDb,
    project: &Project,
    (dump, more): (&Path, &[&str]),
    says: &[&str],
) {
    let before = database(db).await;
    let args = [&["restore", dump.to_str().unwrap(), "--yes"][..], more].concat();
    let run = project.run(&db.url, &args).await;
    let text = run.text();
    assert_unchanged(db, &before, &text).await;
    run.expect_code(5);
    assert!(
        text.contains("nothing was committed") && says.iter().all(|said| text.contains(said)),
        "{text}"
    );
}

/// Starts `restore dump --yes` and returns it once its psql is copying the filler's rows
/// (`client` watches for that): the moment to interrupt a restore mid-replay.
async fn restore_copying_filler(
    db: &TestDb,
    client: &tokio_postgres::Client,
    project: &Project,
    dump: &Path,
) -> tokio::process::Child {
    let child = project
        .command(&db.url, &["restore", dump.to_str().unwrap(), "--yes"])
        .spawn()
        .unwrap();
    session(
        client,
        "state = 'active' AND query LIKE 'COPY public.filler % FROM stdin%'",
        "the restore's psql copying the filler's rows",
    )
    .await;
    child
}

/// A directory with the real pg_dump and psql, and a pg_restore that runs the real one but,
/// when it writes the restore's script (`--file=-`), passes on only its first `lines` lines
/// (cut at a line, so the rows before the cut are whole and valid) and is then SIGKILLed.
async fn pg_restore_killed_after(project: &Project, lines: u32) -> PathBuf {
    let dir = project.path().join("killed-pg_restore");
    std::fs::create_dir(&dir).unwrap();
    for program in ["pg_dump", "psql"] {
        std::os::unix::fs::symlink(pg_program(program).await, dir.join(program)).unwrap();
    }
    let real = pg_program("pg_restore").await;
    let wrapper = dir.join("pg_restore");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \"$*\" in *--file=-*) ;; *) exec '{real}' \"$@\" ;; esac\n'{real}' \"$@\" | head -n {lines}\nkill -KILL $$\n",
            real = real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir.join("pg_dump")
}

#[tokio::test]
async fn pg_restore_killed_mid_stream_commits_nothing_and_says_so() {
    let db = TestDb::new().await;
    let (project, dump) = backed_up_with_filler_then_moved_on(&db).await;
    // Half-way through the filler's rows.
    let pg_dump = pg_restore_killed_after(&project, 200_000).await;
    restore_commits_nothing(
        &db,
        &project,
        (&dump, &["--pg-dump", pg_dump.to_str().unwrap()]),
        &[
            "pg_restore failed (signal: 9 (SIGKILL))",
            "the database is as it was before",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_truncated_dump_whose_manifest_matches_commits_nothing_and_says_so() {
    let db = TestDb::new().await;
    let (project, dump) = backed_up_with_filler_then_moved_on(&db).await;
    let mut bytes = std::fs::read(&dump).unwrap();
    bytes.truncate(bytes.len() - 100);
    std::fs::write(&dump, &bytes).unwrap();
    let manifest_path = format!("{}.json", dump.display());
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest["size_bytes"] = bytes.len().into();
    manifest["sha256"] = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&bytes)).into()
    };
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    restore_commits_nothing(
        &db,
        &project,
        (&dump, &[]),
        &[
            "pg_restore failed (exit status: 1)",
            "the database is as it was before",
        ],
    )
    .await;
}

#[tokio::test]
async fn schemagate_killed_mid_restore_commits_nothing() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let (project, dump) = backed_up_with_filler_then_moved_on(&db).await;
    let before = database(&db).await;
    let mut child = restore_copying_filler(&db, &client, &project, &dump).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    // psql, orphaned, reads the end of its input, and its session ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let others: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if others == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restore's session is still there 20 s after schemagate was killed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_free_lock(&client, "after schemagate was killed mid-restore").await;
    assert_unchanged(&db, &before, "schemagate was killed mid-restore").await;
}

#[tokio::test]
async fn sigterm_mid_restore_exits_8_within_a_second_and_commits_nothing() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let (project, dump) = backed_up_with_filler_then_moved_on(&db).await;
    let before = database(&db).await;
    let child = restore_copying_filler(&db, &client, &project, &dump).await;
    let pid = child.id().unwrap();
    let signalled = Instant::now();
    send_signal(pid, "TERM").await;
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("schemagate stops the restore on SIGTERM")
        .unwrap();
    let took = signalled.elapsed();
    let run = Run(output);
    let text = run.text();
    run.expect_code(8);
    assert!(took < Duration::from_secs(1), "took {took:?}: {text}");
    assert!(
        text.contains("stopped by SIGTERM during the restore, before its COMMIT was sent: nothing was committed"),
        "{text}"
    );
    wait_for_free_lock(&client, "after a SIGTERM mid-restore").await;
    assert_unchanged(&db, &before, &text).await;
}

#[tokio::test]
async fn a_restore_failing_after_a_large_object_commits_nothing() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let project = Project::with_tables(2, 1, 1);
    project.migrate_first(&db.url, 1, 1).await;
    // pg_restore writes a large object between BEGIN and COMMIT of its own unless told
    // --single-transaction; the grant to a role dropped since fails after it. (The large
    // object is removed after the backup: large objects live outside schemas, so the
    // restore's drops do not remove them.)
    let role = format!("{}_reader", db.name);
    client
        .batch_execute(&format!(
            "SELECT lo_from_bytea(0, 'blob'); CREATE ROLE {role}; GRANT SELECT ON t1 TO {role}"
        ))
        .await
        .unwrap();
    project.run(&db.url, &["backup"]).await.expect_code(0);
    let dump = first_dump(&project);
    client
        .batch_execute(&format!(
            "SELECT lo_unlink(oid) FROM pg_largeobject_metadata; REVOKE SELECT ON t1 FROM {role}; \
             DROP ROLE {role}; INSERT INTO t1 VALUES (1)"
        ))
        .await
        .unwrap();
    project.compat(1, 2);
    project.migrate_no_backup(&db.url).await;
    restore_commits_nothing(
        &db,
        &project,
        (&dump, &[]),
        &[&format!("role \"{role}\" does not exist")],
    )
    .await;
}
