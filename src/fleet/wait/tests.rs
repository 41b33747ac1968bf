//! `--fleet-wait`'s loop on the rows replicas announced in PostgreSQL's `schemagate_fleet`.
#![cfg(feature = "postgres")]

use std::sync::{Arc, Mutex};

use super::*;
use crate::fleet::testing::{compat, instance, seconds};
use crate::postgres::fleet;
use crate::postgres::testing::TestDatabase;

/// Records every `blocked` call of a wait.
fn recorder() -> (Arc<Mutex<Vec<bool>>>, impl FnMut(bool)) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&calls);
    (calls, move |on| sink.lock().unwrap().push(on))
}

#[tokio::test]
async fn the_fleet_wait_admits_as_soon_as_the_blocking_release_leaves() {
    let db = TestDatabase::create().await;
    let client = db.client().await;
    let old = instance("1.3.0", "old", (3, 4), seconds(5));
    fleet::announce(&client, &old).await.unwrap();
    let other = db.client().await;
    let leaving = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        fleet::leave(&other, &old.id).await.unwrap();
    });
    let (calls, blocked) = recorder();
    let wait = Wait {
        timeout: seconds(10),
        interval: Duration::from_millis(50),
    };
    let compat = compat("");
    let waited = until_admitted(
        || fleet::live(&client),
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
    let db = TestDatabase::create().await;
    let client = db.client().await;
    fleet::announce(&client, &instance("1.3.0", "old", (3, 4), seconds(5)))
        .await
        .unwrap();
    let compat = compat("");
    let step = Change { from: 4, to: 5 };
    let (calls, blocked) = recorder();
    let wait = Wait {
        timeout: Duration::from_millis(200),
        interval: Duration::from_millis(50),
    };
    let error = until_admitted(|| fleet::live(&client), step, &compat, wait, blocked)
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
    let error = until_admitted(|| fleet::live(&client), step, &compat, at_once, blocked)
        .await
        .unwrap_err();
    assert!(matches!(error, FleetError::Refused(_)), "{error:?}");
    assert!(
        calls.lock().unwrap().is_empty(),
        "no wait, no blocked gauge"
    );
}
