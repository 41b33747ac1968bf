use super::*;
use crate::fleet::testing::compat;

fn replica(version: &str, host: &str, min: i64, max: i64) -> Replica {
    Replica {
        id: format!("{version}-{host}"),
        host: host.to_owned(),
        app_version: version.to_owned(),
        min,
        max,
        refresh_ms: 5000,
        started_at: "2026-11-22T10:00:00Z".to_owned(),
        last_seen: "2026-11-22T10:00:05Z".to_owned(),
    }
}

fn moving(from: i64, to: i64) -> Change {
    Change { from, to }
}

fn refused(admission: Admission) -> Refusal {
    match admission {
        Admission::Refused(refusal) => refusal,
        Admission::Admitted(change) => panic!("{change:?} was admitted"),
    }
}

#[test]
fn a_target_above_the_lowest_live_max_is_refused_naming_versions_counts_and_hosts() {
    let live = [
        replica("v1.3.0", "a", 3, 4),
        replica("v1.3.0", "b", 3, 4),
        replica("v1.2.9", "c", 2, 6),
    ];
    let refusal = refused(admit(moving(4, 5), &compat(""), &live));
    assert_eq!(
        refusal.blocking(),
        "2 replicas of v1.3.0 run on schema ≤ 4 (hosts a, b); migrating to 5 would make them fail"
    );
    assert_eq!(refusal.blockers.len(), 1, "v1.2.9 runs on 5: {refusal:?}");
    assert!(refusal.to_string().contains("--fleet-wait"), "{refusal}");
    assert!(refusal.to_string().contains("--ignore-fleet"), "{refusal}");
}

#[test]
fn several_blocking_releases_are_listed_lowest_max_first() {
    let live = [
        replica("v1.3.0", "a", 3, 4),
        replica("v1.1.0", "z", 1, 3),
        replica("v1.1.0", "z", 1, 3),
    ];
    let refusal = refused(admit(moving(3, 5), &compat(""), &live));
    assert_eq!(
        refusal.blocking(),
        "2 replicas of v1.1.0 run on schema ≤ 3 (host z) and 1 replica of v1.3.0 runs on schema ≤ 4 (host a); migrating to 5 would make them fail"
    );
}

#[test]
fn a_lone_blocker_is_it_and_long_host_lists_are_cut() {
    let one = refused(admit(
        moving(4, 5),
        &compat(""),
        &[replica("v1.3.0", "a", 3, 4)],
    ));
    assert!(
        one.blocking()
            .ends_with("(host a); migrating to 5 would make it fail")
    );
    let many: Vec<Replica> = (0..8)
        .map(|i| replica("v1.3.0", &format!("h{i}"), 3, 4))
        .collect();
    let text = refused(admit(moving(4, 5), &compat(""), &many)).blocking();
    assert!(
        text.starts_with(
            "8 replicas of v1.3.0 run on schema ≤ 4 (hosts h0, h1, h2, h3, h4 and 3 more)"
        ),
        "{text}"
    );
}

#[test]
fn a_rollback_below_the_highest_live_min_is_refused() {
    let live = [replica("v1.5.0", "n1", 5, 7), replica("v1.6.0", "n2", 6, 7)];
    let refusal = refused(admit(moving(6, 5), &compat(""), &live));
    assert_eq!(
        refusal.blocking(),
        "1 replica of v1.6.0 runs on schema ≥ 6 (host n2); rolling back to 5 would make it fail"
    );
    assert!(matches!(
        admit(moving(6, 5), &compat(""), &live[..1]),
        Admission::Admitted(_)
    ));
}

#[test]
fn rows_of_this_release_are_ignored_however_the_version_is_spelled() {
    let live = [replica("v1.4.0", "a", 4, 5), replica("1.4.0", "b", 4, 4)];
    assert_eq!(
        admit(moving(4, 5), &compat(""), &live),
        Admission::Admitted(moving(4, 5))
    );
}

#[test]
fn a_wider_releases_entry_admits_and_a_narrower_one_does_not_narrow() {
    let live = [replica("v1.3.0", "a", 3, 4)];
    let widened = compat("[[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 5\n");
    assert!(matches!(
        admit(moving(4, 5), &widened, &live),
        Admission::Admitted(_)
    ));
    // 1.3.0 says it runs on 5 itself; this release thinks it stops at 4: the row wins.
    let live = [replica("v1.3.0", "a", 3, 5)];
    let narrower = compat("[[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 4\n");
    assert!(matches!(
        admit(moving(4, 5), &narrower, &live),
        Admission::Admitted(_)
    ));
    assert_eq!(
        effective_window(&replica("v1.3.0", "a", 2, 4), &narrower),
        Window {
            min: 2,
            max: 4,
            target: 4
        }
    );
}

#[test]
fn a_widened_window_still_refuses_beyond_its_new_max() {
    let live = [replica("v1.3.0", "a", 3, 4)];
    let widened = compat("[[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 5\n");
    let refusal = refused(admit(moving(4, 6), &widened, &live));
    assert!(
        refusal
            .blocking()
            .starts_with("1 replica of v1.3.0 runs on schema ≤ 5"),
        "{refusal}"
    );
}

#[test]
fn replicas_already_failing_on_the_current_schema_do_not_block() {
    // 1.2.0 stops at 3 and the schema is at 4 already: its /health fails today.
    let live = [replica("v1.2.0", "old", 2, 3)];
    assert!(matches!(
        admit(moving(4, 5), &compat(""), &live),
        Admission::Admitted(_)
    ));
}

#[test]
fn a_row_with_an_unparsable_version_is_judged_by_its_own_window() {
    let live = [replica("nightly", "x", 1, 4)];
    let refusal = refused(admit(moving(4, 5), &compat(""), &live));
    assert_eq!(refusal.blockers[0].version, "nightly");
}

#[test]
fn the_verdict_reads_as_a_sentence() {
    let live = [replica("v1.3.0", "a", 3, 4)];
    assert_eq!(
        admit(moving(3, 4), &compat(""), &live).to_string(),
        "the fleet admits migrating to 4"
    );
    assert_eq!(
        admit(moving(4, 4), &compat(""), &live).to_string(),
        "the schema stays at 4: nothing for the fleet to admit"
    );
    assert!(
        admit(moving(4, 5), &compat(""), &live)
            .to_string()
            .starts_with("refused by the fleet: 1 replica of v1.3.0")
    );
    let refusal = refused(admit(moving(4, 5), &compat(""), &live));
    assert!(
        refusal
            .overridden()
            .starts_with("fleet ignored (--ignore-fleet): 1 replica")
    );
    assert_eq!(
        admit(moving(4, 5), &compat(""), &live),
        Admission::Refused(refusal)
    );
}

#[test]
fn a_plan_is_a_change_from_its_current_version_to_its_target() {
    let plan = Plan {
        direction: Direction::Down,
        current: 5,
        target: 3,
        steps: Vec::new(),
    };
    let change = Change::from(&plan);
    assert_eq!(
        (change, change.direction()),
        (moving(5, 3), Some(Direction::Down))
    );
}

/// Admission judged on the rows replicas announced in PostgreSQL's `schemagate_fleet`.
#[cfg(feature = "postgres")]
mod live {
    use super::*;
    use crate::fleet::testing::{instance, seconds};
    use crate::postgres::fleet;
    use crate::postgres::testing::TestDatabase;

    #[tokio::test]
    async fn live_rows_of_another_release_refuse_a_target_above_their_max_and_widening_admits_it() {
        let db = TestDatabase::create().await;
        let client = db.client().await;
        for member in [
            instance("1.3.0", "a", (3, 4), seconds(5)),
            instance("1.3.0", "b", (3, 4), seconds(5)),
            instance("1.4.0", "new", (4, 5), seconds(5)),
        ] {
            fleet::announce(&client, &member).await.unwrap();
        }
        let live = fleet::live(&client).await.unwrap();
        let step = Change { from: 4, to: 5 };
        let refusal = refused(admit(step, &compat(""), &live));
        assert!(
            refusal.to_string().starts_with(
                "2 replicas of v1.3.0 run on schema ≤ 4 (hosts a, b); migrating to 5 would make them fail"
            ),
            "this release's own row is not among the blockers: {refusal}"
        );
        let widened = compat("[[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 5\n");
        assert_eq!(admit(step, &widened, &live), Admission::Admitted(step));
        let narrower = compat("[[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 3\n");
        assert!(matches!(
            admit(Change { from: 3, to: 4 }, &narrower, &live),
            Admission::Admitted(_)
        ));
    }

    #[tokio::test]
    async fn a_rollback_below_the_min_of_a_live_newer_release_is_refused() {
        let db = TestDatabase::create().await;
        let client = db.client().await;
        fleet::announce(&client, &instance("1.5.0", "n", (5, 6), seconds(5)))
            .await
            .unwrap();
        let live = fleet::live(&client).await.unwrap();
        let refusal = refused(admit(Change { from: 5, to: 4 }, &compat(""), &live));
        assert_eq!(
            refusal.blocking(),
            "1 replica of v1.5.0 runs on schema ≥ 5 (host n); rolling back to 4 would make it fail"
        );
    }
}
