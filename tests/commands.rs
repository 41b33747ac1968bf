//! What the gate's commands do and say (DESIGN §18): dry runs that take no lock and show
//! every verdict, the stranding warning and `--atomic`, a command line that means what it
//! says, and failures that say where.

mod atomic;
mod dry_run;
mod line;
mod where_it_failed;

use crate::support::{Project, TestDb};

/// The migration lock's key, as every release of schemagate takes it: a compatibility
/// contract between releases, so written here as a literal, not imported.
pub const LOCK_KEY: i64 = 8_314_604_121_892_153_185;

/// A project of `n` tables at schema `at` on `db` (release 1.0.0, window `[1, at]`, no
/// backup), its window then set to `[min, max]`.
pub async fn migrated(db: &TestDb, n: i64, at: i64, (min, max): (i64, i64)) -> Project {
    let project = Project::with_tables(n, 1, at);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    project.compat(min, max);
    project
}
