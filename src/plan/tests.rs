use super::*;
use crate::catalogue::{SourceFile, from_files};

/// A catalogue of versions with trivial SQL.
fn catalogue(versions: &[i32]) -> Catalogue {
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

fn applied(catalogue: &Catalogue, versions: &[i32]) -> Vec<Applied> {
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
