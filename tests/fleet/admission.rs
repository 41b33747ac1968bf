//! Admission on live rows, and `--fleet-wait`'s loop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemagate::internals::pg_fleet;
use schemagate::internals::{Admission, Change, FleetError, Wait, admit, until_admitted};

use super::{compat, instance, seconds};
use crate::support::TestDb;

#[tokio::test]
async fn live_rows_of_another_release_refuse_a_target_above_their_max_and_widening_admits_it() {
    let db = TestDb::new().await;
    let client = db.client().await;
    for member in [
        instance("1.3.0", "a", (3, 4), seconds(5)),
        instance("1.3.0", "b", (3, 4), seconds(5)),
        instance("1.4.0", "new", (4, 5), seconds(5)),
    ] {
        pg_fleet::announce(&client, &member).await.unwrap();
    }
    let live = pg_fleet::live(&client).await.unwrap();
    let step = Change { from: 4, to: 5 };
    let refusal = admit(step, &compat(""), &live).into_result().unwrap_err();
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
    let db = TestDb::new().await;
    let client = db.client().await;
    pg_fleet::announce(&client, &instance("1.5.0", "n", (5, 6), seconds(5)))
        .await
        .unwrap();
    let live = pg_fleet::live(&client).await.unwrap();
    let refusal = admit(Change { from: 5, to: 4 }, &compat(""), &live)
        .into_result()
        .unwrap_err();
    assert_eq!(
        refusal.blocking(),
        "1 replica of v1.5.0 runs on schema ≥ 5 (host n); rolling back to 4 would make it fail"
    );
}

/// Records every `blocked` call of a wait.
fn recorder() -> (Arc<Mutex<Vec<bool>>>, impl FnMut(bool)) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&calls);
    (calls, move |on| sink.lock().unwrap().push(on))
}

#[tokio::test]
async fn the_fleet_wait_admits_as_soon_as_the_blocking_release_leaves() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let old = instance("1.3.0", "old", (3, 4), seconds(5));
    pg_fleet::announce(&client, &old).await.unwrap();
    let other = db.client().await;
    let leaving = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        pg_fleet::leave(&other, &old.id).await.unwrap();
    });
    let (calls, blocked) = recorder();
    let wait = Wait {
        timeout: seconds(10),
        interval: Duration::from_millis(50),
    };
    let compat = compat("");
    let waited = until_admitted(
        || pg_fleet::live(&client),
        Change { from: 4, to: 5 },
        &compat,
        wait,
        blocked,
    )
    .await
    .unwrap();
    leaving.await.unwrap();
    assert!(
        waited >= Duration::from_millis(250) && waited < seconds(5),
        "{waited:?}"
    );
    assert_eq!(*calls.lock().unwrap(), [true, false]);
}

#[tokio::test]
async fn the_fleet_wait_gives_up_after_its_timeout_and_no_wait_refuses_at_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    pg_fleet::announce(&client, &instance("1.3.0", "old", (3, 4), seconds(5)))
        .await
        .unwrap();
    let compat = compat("");
    let step = Change { from: 4, to: 5 };
    let (calls, blocked) = recorder();
    let wait = Wait {
        timeout: Duration::from_millis(200),
        interval: Duration::from_millis(50),
    };
    let error = until_admitted(|| pg_fleet::live(&client), step, &compat, wait, blocked)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FleetError::StillRefused { waited, .. } if *waited >= Duration::from_millis(200)),
        "{error:?}"
    );
    assert!(error.is_refusal());
    assert!(
        error
            .to_string()
            .contains("1 replica of v1.3.0 runs on schema ≤ 4 (host old)"),
        "{error}"
    );
    assert_eq!(*calls.lock().unwrap(), [true, false]);

    let (calls, blocked) = recorder();
    let at_once = Wait {
        timeout: Duration::ZERO,
        ..wait
    };
    let error = until_admitted(|| pg_fleet::live(&client), step, &compat, at_once, blocked)
        .await
        .unwrap_err();
    assert!(matches!(error, FleetError::Refused(_)), "{error:?}");
    assert!(
        calls.lock().unwrap().is_empty(),
        "no wait, no blocked gauge"
    );
}
