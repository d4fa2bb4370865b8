//! Problems found in a Score file, reported all at once with file, line,
//! JSON pointer and a plain message.

use std::fmt;

/// The loader stage that produced a report. Stages run in order and loading
/// stops after the first stage that finds problems, so every diagnostic of a
/// report comes from the same stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Reading the file, size and nesting limits, YAML syntax, "not a mapping".
    Decode,
    /// The official Score JSON Schema (and mapping into the typed model).
    Schema,
    /// Cross-field rules: placeholders, `before` graph, `files.source` paths.
    Semantic,
    /// Placeholder expansion with a resolver.
    Expand,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Decode => "decode",
            Self::Schema => "schema",
            Self::Semantic => "semantic",
            Self::Expand => "expand",
        })
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as given by the caller.
    pub file: String,
    /// 1-based line of the offending node (or its nearest known ancestor).
    pub line: Option<usize>,
    /// RFC 6901 JSON pointer of the offending node (`/containers/web/image`);
    /// empty for the whole document.
    pub pointer: String,
    /// A plain message (`required`, `unknown field`, ...).
    pub message: String,
}

impl Diagnostic {
    /// The pointer in the dotted form users read (`containers.web.image`,
    /// `containers.web.files["/etc/app.conf"].mode`).
    pub fn dotted_path(&self) -> String {
        dotted(&self.pointer)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.pointer.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.dotted_path(), self.message)
        }
    }
}

/// Every problem found in one file, from the first stage that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Report {
    pub file: String,
    pub stage: Stage,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub(crate) fn new(file: &str, stage: Stage) -> Self {
        Self {
            file: file.to_owned(),
            stage,
            diagnostics: Vec::new(),
        }
    }

    /// Adds one diagnostic; `line` is looked up by the caller.
    pub(crate) fn push(&mut self, line: Option<usize>, pointer: &str, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            line,
            pointer: pointer.to_owned(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// A report with a single whole-file problem.
    pub(crate) fn single(
        file: &str,
        stage: Stage,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        let mut report = Self::new(file, stage);
        report.push(line, "", message);
        report
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// Splits a JSON pointer into its unescaped segments.
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Builds a JSON pointer from unescaped segments.
pub fn pointer_from<S: AsRef<str>>(segments: &[S]) -> String {
    let mut pointer = String::new();
    for segment in segments {
        pointer.push('/');
        crate::placeholder::push_pointer_segment(&mut pointer, segment.as_ref());
    }
    pointer
}

fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer_segments(pointer) {
        let plain = !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if plain {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        } else {
            // File targets and annotation keys contain dots and slashes.
            out.push('[');
            out.push_str(&serde_json::Value::String(segment).to_string());
            out.push(']');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_the_cli_format() {
        let d = Diagnostic {
            file: "score.yaml".into(),
            line: Some(12),
            pointer: "/containers/web/image".into(),
            message: "required".into(),
        };
        assert_eq!(
            d.to_string(),
            "score.yaml:12: containers.web.image: required"
        );
        let d = Diagnostic {
            file: "s.yaml".into(),
            line: None,
            pointer: "/containers/web/files/~1etc~1a.conf/mode".into(),
            message: "bad".into(),
        };
        assert_eq!(
            d.to_string(),
            r#"s.yaml: containers.web.files["/etc/a.conf"].mode: bad"#
        );
    }

    #[test]
    fn pointer_round_trip() {
        let segments = vec!["a/b".to_owned(), "c~d".to_owned(), "0".to_owned()];
        let pointer = pointer_from(&segments);
        assert_eq!(pointer, "/a~1b/c~0d/0");
        assert_eq!(pointer_segments(&pointer), segments);
    }
}
