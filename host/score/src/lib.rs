//! Score v1b1 workload specification: typed model, validation and placeholders.
//!
//! Loading a Score file runs four stages and stops after the first one that
//! finds problems, reporting *all* of that stage's problems at once:
//!
//! 1. [`yaml`]: YAML → JSON value with a line per node, under size, depth and
//!    alias-expansion caps;
//! 2. [`schema`]: the official Score JSON Schema, embedded;
//! 3. the typed [`model::Workload`] (deprecated array forms upgraded);
//! 4. [`semantic`] rules: placeholders, `before` graph, file sources.
//!
//! [`expand::expand_workload`] later substitutes `${metadata.…}` and
//! `${resources.…}` where the spec allows them, with resource outputs from a
//! caller-supplied [`placeholder::Resolver`]. [`placeholder::tokenize`] is the
//! shared `${…}` syntax, also used for Podium's definition-side placeholders.
//!
//! Pure: the only I/O is [`load_file`] reading the file it is given.

use std::path::Path;

pub mod diagnostics;
pub mod expand;
pub mod model;
pub mod placeholder;
pub mod schema;
pub mod semantic;
pub mod yaml;

pub use diagnostics::{Diagnostic, Report, Stage};
pub use expand::{ExpandedWorkload, expand_workload};
pub use model::Workload;

/// Reads and loads one Score file (YAML or JSON). The file name in the
/// report is the path as given.
pub fn load_file(path: &Path) -> Result<Workload, Report> {
    let name = path.display().to_string();
    let limit = yaml::Limits::default().max_bytes;
    // Refuse oversized files before reading them into memory.
    if let Ok(meta) = std::fs::metadata(path)
        && meta.len() > limit as u64
    {
        let error = yaml::YamlError::TooLarge {
            size: usize::try_from(meta.len()).unwrap_or(usize::MAX),
            limit,
        };
        return Err(Report::single(
            &name,
            Stage::Decode,
            None,
            error.to_string(),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        Report::single(&name, Stage::Decode, None, format!("cannot read file: {e}"))
    })?;
    load_str(&name, &text, path.parent())
}

/// Loads one Score document from text: parse, schema, model, semantics.
///
/// ```
/// let report = podium_score::load_str(
///     "score.yaml",
///     "apiVersion: score.dev/v1b1\nmetadata:\n  name: web\ncontainers:\n  web: {}\n",
///     None,
/// )
/// .unwrap_err();
/// assert_eq!(report.to_string(), "score.yaml:5: containers.web.image: required");
/// ```
///
/// `name` labels diagnostics. `base_dir` is the directory `files[].source`
/// paths are relative to (the Score file's directory); sources are checked
/// lexically (relative, no `..` above the directory) whether or not it is
/// given, and never read.
pub fn load_str(name: &str, text: &str, base_dir: Option<&Path>) -> Result<Workload, Report> {
    // The base directory only anchors relative sources; the lexical check
    // needs nothing from the file system.
    let _ = base_dir;
    let limits = yaml::Limits::default();
    // Fast path without line tracking; lines are recovered by a second parse
    // only when there is something to report.
    let value = yaml::parse_value(text, limits)
        .map_err(|e| Report::single(name, Stage::Decode, e.line(), e.to_string()))?;
    let lines = || {
        yaml::parse_with_limits(text, limits)
            .map(|doc| doc.lines)
            .unwrap_or_default()
    };
    if !value.is_object() {
        let found = match &value {
            serde_json::Value::Null => "an empty document",
            serde_json::Value::Array(_) => "a sequence",
            _ => "a scalar",
        };
        return Err(Report::single(
            name,
            Stage::Decode,
            lines().line(""),
            format!("a Score file must be a YAML mapping, found {found}"),
        ));
    }

    let violations = schema::validate(&value);
    if !violations.is_empty() {
        return Err(report(name, Stage::Schema, violations, &lines()));
    }

    let workload = Workload::from_json(value).map_err(|e| {
        Report::single(
            name,
            Stage::Schema,
            None,
            format!("does not fit the Score model: {e}"),
        )
    })?;

    let violations = semantic::check(&workload);
    if !violations.is_empty() {
        return Err(report(name, Stage::Semantic, violations, &lines()));
    }
    Ok(workload)
}

fn report(
    name: &str,
    stage: Stage,
    violations: Vec<schema::Violation>,
    lines: &yaml::LineMap,
) -> Report {
    let mut report = Report::new(name, stage);
    for v in violations {
        report.push(lines.line(&v.pointer), &v.pointer, v.message);
    }
    report
        .diagnostics
        .sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.pointer.cmp(&b.pointer)));
    report
}
