//! docs/configuration.md keeps up with the command line. Every `--long-flag` that
//! `--help` prints must have a heading of its own there (a `###` line naming it, with its
//! default, example and notes below), and every environment variable shown as
//! `[env: NAME…]` and every command a table row of their own (a line starting with
//! `` | `NAME` ``). No database needed.

use std::collections::BTreeSet;
use std::process::Stdio;

/// Variables read outside clap, which `--help` cannot show.
const OTHER_VARIABLES: &[&str] = &["DATABASE_URL", "RUST_LOG", "TEST_DATABASE_URL"];

/// Runs `schemagate <args>` with an empty environment (so no `SCHEMAGATE_*` of the
/// caller changes the output) and returns its stdout.
async fn run(args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_schemagate"))
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "schemagate {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands listed under `Commands:` of the top-level help, without `help`.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

fn is_flag_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn is_env_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
}

/// Every `--long-flag` in a help text.
fn flags(help: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in help.match_indices("--") {
        if help[..at].chars().next_back().is_some_and(is_flag_char) {
            continue;
        }
        let name: String = help[at + 2..]
            .chars()
            .take_while(|&c| is_flag_char(c))
            .collect();
        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
            found.insert(format!("--{name}"));
        }
    }
    found
}

/// Every variable shown as `[env: NAME=value]` or, with hidden values, `[env: NAME]`.
fn variables(help: &str) -> BTreeSet<String> {
    help.match_indices("[env: ")
        .map(|(at, marker)| {
            help[at + marker.len()..]
                .chars()
                .take_while(|&c| is_env_char(c))
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Whether `word` occurs in `text` as a whole token (`--backup` is not found in
/// `--backup-dir`, nor `SCHEMAGATE_BACKUP` in `SCHEMAGATE_BACKUP_DIR`).
fn mentions(text: &str, word: &str, part_of_word: fn(char) -> bool) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(part_of_word) && !after.is_some_and(part_of_word)
    })
}

/// The lines of `text` that start with `prefix`, joined.
fn lines_starting_with(text: &str, prefix: &str) -> String {
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_command_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

#[tokio::test]
async fn every_flag_and_variable_in_help_is_in_configuration_md() {
    let docs_path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
    let docs = std::fs::read_to_string(docs_path).unwrap();

    let top = run(&["--help"]).await;
    let commands = commands(&top);
    assert!(
        commands.len() >= 10,
        "expected the commands of DESIGN §7 under `Commands:` of --help, found {commands:?}"
    );
    let mut flags_seen = flags(&top);
    let mut variables_seen = variables(&top);
    for command in &commands {
        let help = run(&[command, "--help"]).await;
        flags_seen.extend(flags(&help));
        variables_seen.extend(variables(&help));
    }
    assert!(flags_seen.contains("--database-url") && variables_seen.contains("APP_VERSION"));
    variables_seen.extend(OTHER_VARIABLES.iter().map(|v| (*v).to_owned()));

    let headings = lines_starting_with(&docs, "#");
    let rows = lines_starting_with(&docs, "| `");
    let missing_commands: Vec<&String> = commands
        .iter()
        .filter(|c| !mentions(&rows, &format!("| `{c}"), is_command_char))
        .collect();
    let missing_flags: Vec<&String> = flags_seen
        .iter()
        .filter(|f| !mentions(&headings, f, is_flag_char))
        .collect();
    let missing_variables: Vec<&String> = variables_seen
        .iter()
        .filter(|v| !mentions(&rows, &format!("| `{v}`"), is_env_char))
        .collect();
    assert!(
        missing_commands.is_empty() && missing_flags.is_empty() && missing_variables.is_empty(),
        "docs/configuration.md lacks what --help shows. Add a row to the commands table for \
         each command, a `### --flag` section (default, example, notes) for each flag, \
         and a row to \"Every environment variable\" for each variable:\n  \
         commands: {missing_commands:?}\n  flags: {missing_flags:?}\n  \
         environment variables: {missing_variables:?}"
    );
}

#[test]
fn help_parsing_finds_flags_variables_and_commands() {
    let help = "Commands:\n  serve   Gate, then serve\n          wrapped text\n  help  Print\n\n\
                Options:\n      --backup-dir <DIR>\n          Like `--rollback-to` or x--not\n\
                          [env: SCHEMAGATE_BACKUP_DIR=./b]\n      --database-url <U>\n\
                          [env: SCHEMAGATE_DATABASE_URL]\n  -h, --help\n";
    assert_eq!(commands(help), ["serve"]);
    assert_eq!(
        flags(help).into_iter().collect::<Vec<_>>(),
        ["--backup-dir", "--database-url", "--help", "--rollback-to"]
    );
    assert_eq!(
        variables(help).into_iter().collect::<Vec<_>>(),
        ["SCHEMAGATE_BACKUP_DIR", "SCHEMAGATE_DATABASE_URL"]
    );
    assert!(mentions(
        "use `--backup-dir` here",
        "--backup-dir",
        is_flag_char
    ));
    assert!(!mentions("use --backup-dir here", "--backup", is_flag_char));
    assert!(!mentions(
        "SCHEMAGATE_BACKUP_DIR",
        "SCHEMAGATE_BACKUP",
        is_env_char
    ));
    let doc =
        "# T\n| `serve` | x |\n### `--listen`\nuse `--url` here\n| `SCHEMAGATE_LISTEN` | y |\n";
    assert_eq!(lines_starting_with(doc, "#"), "# T\n### `--listen`");
    assert!(mentions(
        &lines_starting_with(doc, "| `"),
        "| `serve",
        is_command_char
    ));
    assert!(!mentions(
        &lines_starting_with(doc, "#"),
        "--url",
        is_flag_char
    ));
}
