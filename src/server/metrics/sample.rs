//! Reading `/metrics`: one sample by its exact series, so that a check for `… 1` cannot be
//! satisfied by `… 10`, nor a series by another whose name it begins. The crate's tests and
//! the integration tests (tests/support, through `#[path]`) share this one file.

/// The value of `series` (its name and labels exactly as exposed, e.g.
/// `sg_rollbacks_total` or `sg_app_version{version="v1.4.0"}`) in a Prometheus text
/// exposition; `None` when it is absent. A series exposed twice fails the test.
pub(crate) fn sample(exposition: &str, series: &str) -> Option<f64> {
    let mut values = exposition.lines().filter_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(
            value
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("{series}: the value {value:?} is no number: {e}")),
        )
    });
    let value = values.next();
    assert!(
        values.next().is_none(),
        "{series} is exposed more than once:\n{exposition}"
    );
    value
}

#[test]
fn a_sample_is_found_by_its_exact_series_only() {
    let exposition = "# TYPE a_total counter\na_total 10\na_total_errors 1\nb{x=\"1\"} 3\n";
    assert_eq!(sample(exposition, "a_total"), Some(10.0));
    assert_eq!(sample(exposition, "a_tot"), None);
    assert_eq!(sample(exposition, "b{x=\"1\"}"), Some(3.0));
    assert_eq!(sample(exposition, "b"), None);
}
