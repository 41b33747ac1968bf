use super::*;

fn text(metrics: &Metrics) -> String {
    String::from_utf8(metrics.encode().unwrap().to_vec()).unwrap()
}

fn metrics() -> Metrics {
    let window = Window {
        min: 5,
        max: 7,
        target: 7,
    };
    Metrics::new("sg", "1.4.0", &window).unwrap()
}

#[test]
fn the_schema_version_keeps_exactly_one_series() {
    let metrics = metrics();
    metrics.record_schema(6, 1, true);
    metrics.record_schema(7, 0, true);
    metrics.record_schema(7, 0, true);
    let text = text(&metrics);
    assert!(
        text.contains("sg_schema_version{version=\"7\"} 1"),
        "{text}"
    );
    assert!(!text.contains("sg_schema_version{version=\"6\"}"), "{text}");
    assert!(
        text.contains("sg_app_version{version=\"v1.4.0\"} 1"),
        "{text}"
    );
    assert!(text.contains("sg_schema_min_supported 5"), "{text}");
}

#[test]
fn a_backup_sets_the_backup_gauges_and_a_skipped_one_counts() {
    let metrics = metrics();
    let before = text(&metrics);
    metrics.record_backup(2048, Duration::from_millis(1500), 1_700_000_000.5);
    assert_ne!(
        text(&metrics),
        before,
        "a change must not be hidden by the cached rendering"
    );
    metrics.record_backup_skipped();
    metrics.record_backup_skipped();
    let text = text(&metrics);
    assert!(text.contains("sg_backup_size_bytes 2048"), "{text}");
    assert!(text.contains("sg_backup_duration_seconds 1.5"), "{text}");
    assert!(
        text.contains("sg_backup_last_success_timestamp_seconds 1700000000.5"),
        "{text}"
    );
    assert!(text.contains("sg_backups_skipped_total 2"), "{text}");
}

#[test]
fn lint_findings_are_a_gauge() {
    let metrics = metrics();
    assert!(text(&metrics).contains("sg_lint_findings 0"));
    metrics.record_lint_findings(3);
    assert!(text(&metrics).contains("sg_lint_findings 3"));
}

#[test]
fn the_fleet_has_one_series_per_live_release_and_a_blocked_gauge() {
    let metrics = metrics();
    let group = |version: &str, replicas, max| Group {
        version: version.to_owned(),
        replicas,
        min: 3,
        max,
    };
    metrics.record_fleet(&[
        group("v1.3.0", 2, 4),
        group("v1.4.0", 1, 5),
        group("v1.4.0", 2, 6),
    ]);
    let text = text(&metrics);
    assert!(
        text.contains("sg_fleet_replicas{version=\"v1.3.0\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("sg_fleet_replicas{version=\"v1.4.0\"} 3"),
        "{text}"
    );
    assert!(text.contains("sg_fleet_blocked 0"), "{text}");
    metrics.record_fleet(&[group("v1.4.0", 3, 5)]);
    metrics.record_fleet_blocked(true);
    let text = self::text(&metrics);
    assert!(
        !text.contains("v1.3.0"),
        "a release that left loses its series: {text}"
    );
    assert!(text.contains("sg_fleet_blocked 1"), "{text}");
}

#[test]
fn audit_totals_raise_the_counters_by_the_difference_and_never_lower_them() {
    let metrics = metrics();
    let totals = |migration_failures, rollbacks| Totals {
        migration_failures,
        rollbacks,
    };
    metrics.record_audit_totals(totals(2, 1));
    metrics.record_audit_totals(totals(2, 1));
    let text = self::text(&metrics);
    assert!(text.contains("sg_migration_failures_total 2"), "{text}");
    assert!(text.contains("sg_rollbacks_total 1"), "{text}");
    // A restore brought back an older, shorter trail; then one more failure.
    metrics.record_audit_totals(totals(0, 0));
    metrics.record_audit_totals(totals(1, 0));
    let text = self::text(&metrics);
    assert!(text.contains("sg_migration_failures_total 3"), "{text}");
    assert!(text.contains("sg_rollbacks_total 1"), "{text}");
}

#[test]
fn an_invalid_prefix_is_rejected() {
    let window = Window {
        min: 1,
        max: 1,
        target: 1,
    };
    assert!(Metrics::new("bad-prefix", "1.0.0", &window).is_err());
}
