//! The binary embeds `migrations/` with `embed_catalogue!` (DESIGN §3, §13); cargo does not
//! see a file added to or removed from the directory, so this tells it to rebuild then.

fn main() {
    println!("cargo::rerun-if-changed=migrations");
    println!("cargo::rerun-if-changed=compat.toml");
}
