//! Build script: lists `signatures/pi/*.toml` and `signatures/sdks/*.toml` and generates
//! `include_str!` entries for them, so `leaktap analyze` carries its signatures without an
//! installed copy (`src/detect/embedded.rs`). Files are sorted by path for a reproducible
//! binary. Cargo re-runs this script when anything under `signatures/` changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let dir = root.join("signatures");
    println!("cargo:rerun-if-changed=signatures");
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for sub in ["pi", "sdks"] {
        let sub_dir = dir.join(sub);
        let Ok(entries) = std::fs::read_dir(&sub_dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                let name = format!("{sub}/{}", file_name(&path));
                files.push((name, path));
            }
        }
    }
    files.sort();
    let mut out = String::from(
        "/// Embedded signature files: (name under `signatures/`, text).\n\
         pub(super) static FILES: &[(&str, &str)] = &[\n",
    );
    for (name, path) in &files {
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )?;
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("embedded_signatures.rs"), out)?;
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
