//! Where scenario text comes from: files and folders on disk, or the
//! library compiled into the binary (so a lone binary copied into a
//! container or VM carries it).

use std::path::{Path, PathBuf};

use super::load::Source;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/library.rs"));
}

/// Folders of the library that are test corpora, not conformance checks.
pub const NEGATIVE_DIR: &str = "must_fail";
pub const INVALID_DIR: &str = "invalid";

/// The built-in library: every scenario except the invalid corpus, and
/// except the must-fail twins unless `negative` is set.
pub fn library(negative: bool) -> Vec<Source> {
    embedded::LIBRARY
        .iter()
        .filter(|(p, _)| !p.starts_with(&format!("{INVALID_DIR}/")) && (negative || !p.starts_with(&format!("{NEGATIVE_DIR}/"))))
        .map(|(p, t)| Source { path: (*p).to_owned(), rel: (*p).to_owned(), text: (*t).to_owned() })
        .collect()
}

/// Read scenario files from paths; folders are searched for `*.yaml`.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Source>, String> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, true, &mut files).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    files.sort();
    files.dedup();
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            Ok(Source { path: f.display().to_string(), rel: relative_path(&f), text })
        })
        .collect()
}

/// Files under `p`; below a folder the user named, the invalid corpus is
/// left out (it is only ever checked on purpose, by naming it).
fn collect(p: &Path, named: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        if !named && p.file_name().is_some_and(|n| n == INVALID_DIR) {
            return Ok(());
        }
        for e in std::fs::read_dir(p)? {
            let e = e?.path();
            if e.is_dir() || e.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                collect(&e, false, out)?;
            }
        }
        Ok(())
    } else if p.is_file() {
        out.push(p.to_path_buf());
        Ok(())
    } else {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"))
    }
}

/// Paths inside a `scenarios` folder are named relative to it, so a
/// scenario has the same name from the library, from a checkout, or from
/// `cargo test`.
pub fn relative_path(p: &Path) -> String {
    let comps: Vec<_> = p.components().collect();
    match comps.iter().rposition(|c| c.as_os_str() == "scenarios") {
        Some(i) => comps[i + 1..].iter().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
        None => p.display().to_string(),
    }
}
