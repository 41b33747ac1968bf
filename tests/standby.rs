//! No change on a standby (issue "Production connections" item 4): a server in recovery is
//! refused before the backup, read-only commands work there, and with several hosts
//! `target_session_attrs=read-write` finds the primary.

use crate::support::cluster::{Cluster, Setup};
use crate::support::{Project, connect, files, history};

#[tokio::test]
async fn a_standby_is_never_changed_and_read_write_finds_the_primary_among_several_hosts() {
    let test = "a_standby_is_never_changed";
    // A cluster started with standby.signal stays in recovery and serves reads.
    let standby = Setup {
        files: vec![("standby.signal".to_owned(), Vec::new())],
        ..Setup::default()
    };
    let Some(standby) = Cluster::start(test, standby).await else {
        return;
    };
    let Some(primary) = Cluster::start(test, Setup::default()).await else {
        return;
    };
    let project = Project::with_tables(2, 1, 2);
    let refused = project.run(&standby.url(), &["migrate"]).await;
    refused.expect_code(3);
    assert!(
        refused.text().contains("this server is a standby")
            && refused.text().contains("point schemagate at the primary"),
        "{}",
        refused.text()
    );
    assert!(files(&project.backups()).is_empty(), "no backup was taken");
    project
        .run(&standby.url(), &["status"])
        .await
        .expect_code(0);

    let both = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        standby.port(),
        primary.port()
    );
    project.run(&both, &["migrate"]).await.expect_code(0);
    let primary_client = connect(&primary.url()).await;
    assert_eq!(history(&primary_client, "the primary").await, [1, 2]);
}
