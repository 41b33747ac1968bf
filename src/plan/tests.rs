use super::*;
use crate::catalogue::{SourceFile, from_files};

/// A catalogue of versions with trivial SQL.
fn catalogue(versions: &[i64]) -> Catalogue {
    let files = versions
        .iter()
        .flat_map(|v| {
            [
                SourceFile {
                    name: format!("V{v}__m{v}.sql"),
                    bytes: format!("SELECT {v};").into_bytes(),
                },
                SourceFile {
                    name: format!("V{v}__m{v}.down.sql"),
                    bytes: b"SELECT 0;".to_vec(),
                },
            ]
        })
        .collect();
    from_files("m/", files).unwrap()
}

fn applied(catalogue: &Catalogue, versions: &[i64]) -> Vec<Applied> {
    versions
        .iter()
        .map(|&v| Applied {
            version: v,
            name: format!("m{v}"),
            applied_on: String::new(),
            checksum: catalogue.get(v).map(|m| m.checksum).or(Some(1)),
        })
        .collect()
}

const WINDOW: Window = Window {
    min: 3,
    max: 5,
    target: 5,
};

#[test]
fn a_fresh_database_gets_every_migration_up_to_the_target() {
    let c = catalogue(&[1, 2, 3, 4, 5, 6]);
    let plan = forward(&c, &[], &WINDOW).unwrap();
    assert_eq!(
        plan.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!((plan.current, plan.target), (0, 5));
}

#[test]
fn an_up_to_date_database_has_an_empty_plan() {
    let c = catalogue(&[1, 2, 3, 4, 5]);
    let plan = forward(&c, &applied(&c, &[1, 2, 3, 4, 5]), &WINDOW).unwrap();
    assert!(plan.is_empty());
    assert_eq!(plan.target, 5);
}

#[test]
fn an_edited_applied_file_is_drift() {
    let c = catalogue(&[1, 2, 3]);
    let mut history = applied(&c, &[1, 2]);
    history[1].checksum = Some(42);
    let refusal = forward(&c, &history, &WINDOW).unwrap_err();
    assert!(
        matches!(refusal, Refusal::Drift { version: 2, .. }),
        "{refusal}"
    );
    assert!(refusal.to_string().contains("m/V2__m2.sql"));
}

#[test]
fn an_applied_version_missing_below_the_catalogue_is_refused() {
    let c = catalogue(&[1, 3, 4]);
    let refusal = forward(&c, &applied(&c, &[1, 2]), &WINDOW).unwrap_err();
    assert!(
        matches!(refusal, Refusal::UnknownApplied { version: 2, .. }),
        "{refusal}"
    );
}

#[test]
fn a_newer_schema_within_the_window_is_accepted() {
    let c = catalogue(&[1, 2, 3, 4]);
    let plan = forward(&c, &applied(&c, &[1, 2, 3, 4, 5]), &WINDOW).unwrap();
    assert!(plan.is_empty());
    assert_eq!(plan.current, 5);
}

#[test]
fn a_schema_beyond_the_window_is_refused() {
    let c = catalogue(&[1, 2, 3, 4]);
    let refusal = forward(&c, &applied(&c, &[1, 2, 3, 4, 6]), &WINDOW).unwrap_err();
    assert_eq!(refusal, Refusal::Ahead { current: 6, max: 5 });
}

#[test]
fn a_pending_migration_below_the_current_version_is_out_of_order() {
    let c = catalogue(&[1, 2, 3, 4]);
    let refusal = forward(&c, &applied(&c, &[1, 3]), &WINDOW).unwrap_err();
    assert!(
        matches!(refusal, Refusal::OutOfOrder { current: 3, .. }),
        "{refusal}"
    );
    assert!(refusal.to_string().contains("m/V2__m2.sql"));
}

#[test]
fn a_catalogue_that_cannot_reach_the_min_is_refused_before_any_change() {
    let c = catalogue(&[1, 2]);
    let refusal = forward(&c, &[], &WINDOW).unwrap_err();
    assert!(
        matches!(
            refusal,
            Refusal::Behind {
                version: 2,
                min: 3,
                ..
            }
        ),
        "{refusal}"
    );
}

#[test]
fn the_target_stops_the_plan_below_max() {
    let c = catalogue(&[1, 2, 3, 4, 5]);
    let plan = forward(
        &c,
        &[],
        &Window {
            target: 4,
            ..WINDOW
        },
    )
    .unwrap();
    assert_eq!(plan.target, 4);
}

#[test]
fn a_rollback_runs_the_downs_above_the_target_newest_first() {
    let c = catalogue(&[1, 2, 3, 4, 5]);
    let plan = rollback(&c, &applied(&c, &[1, 2, 3, 4, 5]), 2).unwrap();
    assert_eq!(
        plan.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [5, 4, 3]
    );
    assert_eq!(
        (plan.direction, plan.current, plan.target),
        (Direction::Down, 5, 2)
    );
    assert_eq!(plan.steps[0].file, "m/V5__m5.down.sql");
}

#[test]
fn a_rollback_to_a_gap_stops_at_the_highest_version_below_it() {
    let c = catalogue(&[1, 2, 5]);
    let plan = rollback(&c, &applied(&c, &[1, 2, 5]), 4).unwrap();
    assert_eq!((plan.steps.len(), plan.target), (1, 2));
    assert!(
        rollback(&c, &applied(&c, &[1, 2, 5]), 5)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_rollback_above_the_current_version_is_refused() {
    let c = catalogue(&[1, 2]);
    let refusal = rollback(&c, &applied(&c, &[1]), 2).unwrap_err();
    assert_eq!(
        refusal,
        RollbackRefusal::AboveCurrent {
            target: 2,
            current: 1
        }
    );
}

#[test]
fn a_rollback_past_an_irreversible_step_is_refused() {
    let files = vec![
        SourceFile {
            name: "V1__a.sql".into(),
            bytes: b"SELECT 1;".to_vec(),
        },
        SourceFile {
            name: "V1__a.down.sql".into(),
            bytes: b"SELECT 1;".to_vec(),
        },
        SourceFile {
            name: "V2__b.sql".into(),
            bytes: b"SELECT 2;".to_vec(),
        },
        SourceFile {
            name: "V2__b.down.sql".into(),
            bytes: b"-- schemagate:irreversible\n".to_vec(),
        },
        SourceFile {
            name: "V3__c.sql".into(),
            bytes: b"SELECT 3;".to_vec(),
        },
        SourceFile {
            name: "V3__c.down.sql".into(),
            bytes: b"SELECT 3;".to_vec(),
        },
    ];
    let c = from_files("m/", files).unwrap();
    let history = applied(&c, &[1, 2, 3]);
    assert!(matches!(
        rollback(&c, &history, 1),
        Err(RollbackRefusal::Irreversible { version: 2, .. })
    ));
    assert_eq!(rollback(&c, &history, 2).unwrap().steps.len(), 1);
}

#[test]
fn a_rollback_of_a_version_the_catalogue_lacks_is_refused() {
    let c = catalogue(&[1, 2]);
    let refusal = rollback(&c, &applied(&c, &[1, 2, 3]), 1).unwrap_err();
    assert!(
        matches!(refusal, RollbackRefusal::NoDown { version: 3, .. }),
        "{refusal}"
    );
}

#[test]
fn a_rollback_with_drift_is_refused() {
    let c = catalogue(&[1, 2]);
    let mut history = applied(&c, &[1, 2]);
    history[0].checksum = None;
    assert!(matches!(
        rollback(&c, &history, 0),
        Err(RollbackRefusal::History(Refusal::Drift { version: 1, .. }))
    ));
}

#[test]
fn a_window_below_the_first_timestamp_migration_is_named_with_it() {
    let c = catalogue(&[20240101120000, 20240102120000]);
    let window = Window {
        min: 5,
        max: 6,
        target: 6,
    };
    let error = reachable(&c, &window).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("max 6 is below the first migration, 20240101120000"),
        "{error}"
    );
}

#[test]
fn a_window_between_migrations_is_refused_and_reachable_ones_pass() {
    let c = catalogue(&[1, 3, 5]);
    let between = Window {
        min: 2,
        max: 2,
        target: 2,
    };
    assert!(matches!(
        reachable(&c, &between),
        Err(WindowError::Between {
            below: 1,
            above: 3,
            ..
        })
    ));
    for (min, max) in [(0, 0), (3, 4), (1, 9), (6, 9)] {
        let window = Window {
            min,
            max,
            target: max,
        };
        assert_eq!(reachable(&c, &window), Ok(()), "[{min}, {max}]");
    }
}

#[test]
fn one_migration_planned_alone_is_what_planning_from_the_history_before_it_gives() {
    let c = catalogue(&[2, 5, 9]);
    let mut below = 0;
    let mut history = Vec::new();
    for migration in c.migrations() {
        let version = migration.version;
        let window = Window {
            min: 0,
            max: version,
            target: version,
        };
        assert_eq!(
            up_one(migration, below),
            forward(&c, &history, &window).unwrap()
        );
        history.extend(applied(&c, &[version]));
        assert_eq!(
            down_one(migration, below).unwrap(),
            rollback(&c, &history, below).unwrap()
        );
        below = version;
    }
}
