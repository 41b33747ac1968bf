//! Embeds `migrations/*.sql` and `compat.toml` so the default binary carries its release's
//! catalogue (DESIGN §3). Watching the directory makes an added or removed file rebuild.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let root = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let migrations = Path::new(&root).join("migrations");
    let compat = Path::new(&root).join("compat.toml");
    println!("cargo::rerun-if-changed={}", migrations.display());
    println!("cargo::rerun-if-changed={}", compat.display());

    let mut names: Vec<String> = fs::read_dir(&migrations)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|name| name.ends_with(".sql") && !name.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();

    let mut out =
        String::from("/// Migration files embedded from `migrations/`: name and bytes.\n");
    out.push_str("pub static MIGRATIONS: &[(&str, &[u8])] = &[\n");
    for name in &names {
        let path = migrations.join(name);
        writeln!(
            out,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n/// `compat.toml` as embedded at build time.\n");
    writeln!(
        out,
        "pub static COMPAT: &str = include_str!({:?});",
        compat.display().to_string()
    )
    .expect("writing to a String");
    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    fs::write(dest, out).expect("writing embedded.rs");
}
