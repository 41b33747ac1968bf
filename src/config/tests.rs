use super::*;

const VALID: &str = "[app]\nversion = \"v1.4.0\"\n[schema]\nmin = 5\nmax = 7\n[[releases]]\nversion = \"1.3.0\"\nmin = 4\nmax = 6\n";

#[test]
fn a_valid_file_parses_with_target_defaulting_to_max() {
    let compat = Compat::parse("c.toml", VALID).unwrap();
    assert_eq!(compat.app_version, Version::new(1, 4, 0));
    assert_eq!(
        compat.window,
        Window {
            min: 5,
            max: 7,
            target: 7
        }
    );
    assert_eq!(
        compat.release(&Version::new(1, 3, 0)).unwrap().window.max,
        6
    );
}

#[test]
fn the_reference_file_parses() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/compat.reference.toml"
    ))
    .unwrap();
    let compat = Compat::parse("compat.reference.toml", &text).unwrap();
    assert_eq!(
        compat.window,
        Window {
            min: 5,
            max: 7,
            target: 7
        }
    );
    assert!(compat.lint.strict);
    assert!(compat.apply.atomic);
    assert_eq!(
        compat.placeholders.names().collect::<Vec<_>>(),
        ["APP_ROLE"]
    );
    assert!(
        !Compat::from_toml_str(include_str!("../../compat.toml"))
            .unwrap()
            .lint
            .strict
    );
}

#[test]
fn bad_files_are_refused_with_line_and_column() {
    let cases = [
        (
            "[app]\nversion = \"1.0.0\"\nbogus = 1\n[schema]\nmin = 1\nmax = 2\n",
            "c.toml:3:1: unknown field `bogus`",
        ),
        (
            "[app]\nversion = \"1.0.0\"\n[schema]\nmin = \"one\"\nmax = 2\n",
            "c.toml:4:7: ",
        ),
        (
            "[app]\nversion = \"1.0\"\n[schema]\nmin = 1\nmax = 2\n",
            "c.toml:2:11",
        ),
        (
            "[app]\nversion = \"1.0.0\"\n[schema]\nmin = 3\nmax = 2\n",
            "c.toml:4:7",
        ),
        (
            "[app]\nversion = \"1.0.0\"\n[schema]\nmin = 1\nmax = 3\ntarget = 4\n",
            "c.toml:6:10",
        ),
        (
            "[app]\nversion = \"1.0.0\"\n[schema]\nmin = -1\nmax = 3\n",
            "must be 0 or more",
        ),
        (
            "[app]\nversion = \"1.0.0\"\n[schema]\nmin = 1\nmax = 99999999999999999999\n",
            "c.toml:5:7: ",
        ),
        ("[app]\nversion = \"1.0.0\"\n", "missing field `schema`"),
        (
            &format!("{VALID}[[releases]]\nversion = \"v1.3.0\"\nmin = 1\nmax = 2\n"),
            "listed twice",
        ),
    ];
    for (text, expected) in cases {
        let message = Compat::parse("c.toml", text).unwrap_err().to_string();
        assert!(message.contains(expected), "{text:?}: {message}");
    }
}

#[test]
fn the_app_version_override_accepts_a_leading_v_and_refuses_garbage() {
    let compat = Compat::parse("c.toml", VALID).unwrap();
    assert_eq!(
        compat
            .clone()
            .with_app_version(Some("v2.0.1"))
            .unwrap()
            .app_version,
        Version::new(2, 0, 1)
    );
    assert!(matches!(
        compat.with_app_version(Some("latest")),
        Err(ConfigError::AppVersion { .. })
    ));
}

#[test]
fn a_parse_error_quotes_a_short_excerpt_of_its_line_never_the_line() {
    let secret = "s3cr3t".repeat(1000);
    let text = format!("[app]\nversion = \"1.0.0\" {secret}\n[schema]\nmin = 1\nmax = 2\n");
    let message = Compat::parse("c.toml", &text).unwrap_err().to_string();
    assert!(message.starts_with("c.toml:2:19: "), "{message}");
    assert!(message.contains("(at `…= \"1.0.0\" s3cr3t"), "{message}");
    assert!(message.chars().count() < 200, "{message}");
}

#[test]
fn placeholders_are_strings_with_names_an_environment_variable_can_end_with() {
    let compat = Compat::parse(
        "c.toml",
        &format!("{VALID}[placeholders]\nB = \"secret\"\nA_1 = \"x\"\n"),
    )
    .unwrap();
    assert_eq!(
        compat.placeholders.names().collect::<Vec<_>>(),
        ["A_1", "B"]
    );
    assert!(!format!("{compat:?}").contains("secret"));
    let error = Compat::parse(
        "c.toml",
        &format!("{VALID}[placeholders]\n\"app-role\" = \"x\"\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("c.toml:11:1: placeholder name \"app-role\" is not ASCII letters"),
        "{error}"
    );
}
