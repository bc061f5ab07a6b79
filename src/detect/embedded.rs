//! The signature files compiled into the binary.
//!
//! `build.rs` lists `signatures/pi/*.toml` and `signatures/sdks/*.toml` at build time and
//! generates one `include_str!` per file, so adding a file needs no code change and
//! `leaktap analyze` works without an installed signature directory. Owns nothing else;
//! validation happens in [`super::signature`] exactly as for files read from disk.

use super::signature::{FileKind, SourceFile};

include!(concat!(env!("OUT_DIR"), "/embedded_signatures.rs"));

/// The embedded files, named `signatures/pi/x.toml` / `signatures/sdks/y.toml` in errors.
pub fn files() -> Vec<SourceFile> {
    FILES
        .iter()
        .map(|(name, text)| SourceFile {
            name: format!("signatures/{name}"),
            kind: if name.starts_with("sdks/") {
                FileKind::Sdk
            } else {
                FileKind::Pi
            },
            text: (*text).to_string(),
        })
        .collect()
}

/// Number of embedded files.
pub fn file_count() -> usize {
    FILES.len()
}
