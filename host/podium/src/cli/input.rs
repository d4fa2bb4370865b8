//! Files the commands read, where `-` means standard input (named `<stdin>`
//! in messages): `apply -f -`, `deploy -f -`, `plan -f -`, `score validate -`.

use std::io::Read as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};

/// How messages name standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// Set once standard input has been read: a second `-` would see nothing.
static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);

/// Whether `path` stands for standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The name of `path` in messages: `<stdin>` or the path as given.
pub fn name(path: &Path) -> String {
    if is_stdin(path) {
        STDIN_NAME.to_owned()
    } else {
        path.display().to_string()
    }
}

/// All of standard input, at most `limit` bytes plus one (so that a caller
/// checking the size sees it is too large). Refused the second time.
fn read_stdin(limit: usize) -> anyhow::Result<String> {
    if STDIN_TAKEN.swap(true, Ordering::SeqCst) {
        bail!("standard input (`-`) can be given only once");
    }
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_string(&mut text)
        .context("reading standard input")?;
    Ok(text)
}

/// The text of `path`, or of standard input for `-`.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    if is_stdin(path) {
        read_stdin(usize::MAX)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Loads one Score file, or the Score document on standard input for `-`
/// (whose `files[].source` paths are relative to the current directory).
/// The error is the report to show (`FILE:LINE: PATH: MESSAGE` lines).
pub fn load_score(path: &Path) -> Result<podium_score::Workload, String> {
    if !is_stdin(path) {
        return podium_score::load_file(path).map_err(|report| report.to_string());
    }
    // A larger document is refused by the loader, which sees one byte more.
    let limit = podium_score::yaml::Limits::default().max_bytes;
    let text = read_stdin(limit).map_err(|e| format!("{STDIN_NAME}: {e:#}"))?;
    podium_score::load_str(STDIN_NAME, &text, Some(Path::new(".")))
        .map_err(|report| report.to_string())
}

/// The directory `files[].source` paths of the Score file `path` are
/// relative to.
pub fn base_dir(path: &Path) -> &Path {
    if is_stdin(path) {
        Path::new(".")
    } else {
        path.parent().unwrap_or(Path::new("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_is_stdin_and_named_so() {
        assert!(is_stdin(Path::new("-")));
        assert!(!is_stdin(Path::new("./-")));
        assert_eq!(name(Path::new("-")), "<stdin>");
        assert_eq!(name(Path::new("a/score.yaml")), "a/score.yaml");
        assert_eq!(base_dir(Path::new("-")), Path::new("."));
        assert_eq!(base_dir(Path::new("a/score.yaml")), Path::new("a"));
    }
}
