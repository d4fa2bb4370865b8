//! Rules the JSON Schema cannot express (those of score-go's `loader.Validate`
//! plus Podium's own): placeholders name declared resources and existing
//! metadata, `before` refers to known containers without cycles, resource
//! params do not depend on each other in a cycle, and `files[].source` stays
//! inside the Score file's directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use serde_json::Value;

use crate::expand::lookup;
use crate::model::Workload;
use crate::placeholder::{Token, push_pointer_segment, tokenize};
use crate::schema::Violation;

/// Runs every semantic check and returns all violations.
pub fn check(workload: &Workload) -> Vec<Violation> {
    let mut out = Vec::new();
    check_placeholders(workload, &mut out);
    check_before(workload, &mut out);
    check_param_cycles(workload, &mut out);
    check_file_sources(workload, &mut out);
    out
}

fn pointer(segments: &[&str]) -> String {
    let mut p = String::new();
    for s in segments {
        p.push('/');
        push_pointer_segment(&mut p, s);
    }
    p
}

/// Calls `f(pointer, text)` for every string the spec expands that contains
/// a `$` (the others cannot hold placeholders).
pub(crate) fn for_each_expandable(workload: &Workload, f: &mut dyn FnMut(String, &str)) {
    let mut site = |segments: &[&str], text: &str| {
        if text.contains('$') {
            f(pointer(segments), text);
        }
    };
    for (cname, container) in &workload.containers {
        for (key, value) in &container.variables {
            site(&["containers", cname, "variables", key], value);
        }
        for (target, file) in &container.files {
            if let (Some(content), true) = (&file.content, file.expands()) {
                site(&["containers", cname, "files", target, "content"], content);
            }
        }
        for (target, volume) in &container.volumes {
            site(
                &["containers", cname, "volumes", target, "source"],
                &volume.source,
            );
        }
    }
    for (rname, resource) in &workload.resources {
        if let Some(params) = &resource.params {
            for (key, value) in params {
                let mut at = pointer(&["resources", rname, "params", key]);
                for_each_string(value, &mut at, &mut |at, text| site_owned(at, text, f));
            }
        }
    }
}

fn site_owned(at: String, text: &str, f: &mut dyn FnMut(String, &str)) {
    if text.contains('$') {
        f(at, text);
    }
}

fn for_each_string(value: &Value, at: &mut String, f: &mut dyn FnMut(String, &str)) {
    match value {
        Value::String(s) => f(at.clone(), s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                for_each_string(item, at, f);
                at.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = at.len();
                at.push('/');
                push_pointer_segment(at, k);
                for_each_string(item, at, f);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// Characters a placeholder segment may hold: those of resource names,
/// output keys and annotation keys (dots arrive unescaped from `\.`).
fn well_formed(segment: &str) -> bool {
    segment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn check_placeholders(workload: &Workload, out: &mut Vec<Violation>) {
    let metadata = workload.metadata_json();
    for_each_expandable(workload, &mut |at, text| {
        let tokens = match tokenize(text) {
            Ok(tokens) => tokens,
            Err(e) => {
                out.push(Violation {
                    pointer: at,
                    message: format!("invalid placeholder: {e}"),
                });
                return;
            }
        };
        for token in tokens {
            let Token::Placeholder { path, raw, .. } = token else {
                continue;
            };
            let message = if path.len() < 2 || !path.iter().all(|s| well_formed(s)) {
                Some(format!(
                    "${{{raw}}} is malformed (expected ${{metadata.KEY…}} or ${{resources.NAME…}}; use $$ for a literal $)"
                ))
            } else {
                match path[0].as_str() {
                    "resources" if workload.resources.contains_key(&path[1]) => None,
                    "resources" => Some(format!(
                        "${{{raw}}} does not resolve to a resource: '{}' is not declared under resources",
                        path[1]
                    )),
                    "metadata" => lookup(&metadata, &path[1..])
                        .err()
                        .map(|e| format!("${{{raw}}} does not resolve in metadata: {e}")),
                    _ => Some(format!(
                        "${{{raw}}} has unsupported first element '{}' (expected 'metadata' or 'resources'; use $$ for a literal $)",
                        path[0]
                    )),
                }
            };
            if let Some(message) = message {
                out.push(Violation {
                    pointer: at.clone(),
                    message,
                });
            }
        }
    });
}

fn check_before(workload: &Workload, out: &mut Vec<Violation>) {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (cname, container) in &workload.containers {
        edges.entry(cname.as_str()).or_default();
        for other in container.before.keys() {
            let at = pointer(&["containers", cname, "before", other]);
            if other == cname {
                out.push(Violation {
                    pointer: at,
                    message: format!("container \"{cname}\" has a self-referencing before entry"),
                });
            } else if !workload.containers.contains_key(other) {
                out.push(Violation {
                    pointer: at,
                    message: format!(
                        "container \"{cname}\" before refers to unknown container \"{other}\""
                    ),
                });
            } else {
                edges
                    .entry(cname.as_str())
                    .or_default()
                    .insert(other.as_str());
            }
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        out.push(Violation {
            pointer: "/containers".to_owned(),
            message: format!(
                "containers before relationships contain a cycle: {}",
                cycle.join(", ")
            ),
        });
    }
}

fn check_param_cycles(workload: &Workload, out: &mut Vec<Violation>) {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (rname, resource) in &workload.resources {
        let deps = edges.entry(rname.as_str()).or_default();
        let Some(params) = &resource.params else {
            continue;
        };
        let mut at = String::new();
        for value in params.values() {
            for_each_string(value, &mut at, &mut |_, text| {
                for token in tokenize(text).unwrap_or_default() {
                    if let Token::Placeholder { path, .. } = token
                        && path.len() >= 2
                        && path[0] == "resources"
                        && let Some((name, _)) = workload.resources.get_key_value(&path[1])
                    {
                        deps.insert(name.as_str());
                    }
                }
            });
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        out.push(Violation {
            pointer: "/resources".to_owned(),
            message: format!(
                "a cycle exists involving resource param placeholders: {}",
                cycle.join(", ")
            ),
        });
    }
}

/// Kahn's algorithm: the nodes left once every node nothing points to is
/// removed are on a cycle or reachable from one. `None` when acyclic.
fn find_cycle<'a>(edges: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Option<Vec<&'a str>> {
    let mut remaining: BTreeMap<&str, usize> = edges.keys().map(|k| (*k, 0)).collect();
    for deps in edges.values() {
        for d in deps {
            if let Some(n) = remaining.get_mut(d) {
                *n += 1;
            }
        }
    }
    let mut ready: Vec<&str> = remaining
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    while let Some(node) = ready.pop() {
        remaining.remove(node);
        for d in edges.get(node).into_iter().flatten() {
            if let Some(n) = remaining.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    ready.push(d);
                }
            }
        }
    }
    (!remaining.is_empty()).then(|| remaining.into_keys().collect())
}

fn check_file_sources(workload: &Workload, out: &mut Vec<Violation>) {
    for (cname, container) in &workload.containers {
        for (target, file) in &container.files {
            let Some(source) = &file.source else {
                continue;
            };
            if let Some(problem) = source_problem(source) {
                out.push(Violation {
                    pointer: pointer(&["containers", cname, "files", target, "source"]),
                    message: format!("'{source}' {problem}"),
                });
            }
        }
    }
}

/// Lexical check (no file system access): relative, and never above the
/// Score file's directory.
fn source_problem(source: &str) -> Option<&'static str> {
    // Both separators, whatever the host OS, so a file is judged the same everywhere.
    let drive = matches!(source.as_bytes(), [letter, b':', ..] if letter.is_ascii_alphabetic());
    if source.starts_with(['/', '\\']) || drive {
        return Some("is absolute; use a path relative to the Score file's directory");
    }
    let mut depth: usize = 0;
    for component in Path::new(&source.replace('\\', "/")).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Some("is absolute; use a path relative to the Score file's directory");
            }
            Component::ParentDir => {
                if depth == 0 {
                    return Some("escapes the Score file's directory");
                }
                depth -= 1;
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn messages(doc: Value) -> Vec<String> {
        check(&Workload::from_json(doc).unwrap())
            .into_iter()
            .map(|v| format!("{}: {}", v.pointer, v.message))
            .collect()
    }

    fn doc(container: Value, resources: Value) -> Value {
        json!({"apiVersion": "score.dev/v1b1", "metadata": {"name": "web", "annotations": {"x.io/a": "1"}},
               "containers": {"main": container}, "resources": resources})
    }

    #[test]
    fn placeholders() {
        let m = messages(doc(
            json!({"image": "${nope}", "command": ["${nope}"],
                   "variables": {"A": "${resources.db.host}", "B": "${resources.ghost.x}", "C": "${metadata.annotations.x\\.io/a}",
                                 "D": "${metadata.nope}", "E": "${cheese.x}", "F": "${resources}", "G": "${resources.db.has space}",
                                 "H": "${x", "I": "$${literal}"},
                   "files": {"/f": {"content": "${nope}", "noExpand": true}, "/g": {"content": "${resources.ghost2}"}},
                   "volumes": {"/v": {"source": "${resources.ghost3}"}}}),
            json!({"db": {"type": "postgres", "params": {"a": ["${resources.ghost4.x}"]}}}),
        ));
        assert_eq!(m.len(), 9, "{m:#?}");
        let has = |p: &str, s: &str| m.iter().any(|x| x.starts_with(p) && x.contains(s));
        assert!(has(
            "/containers/main/variables/B:",
            "${resources.ghost.x} does not resolve to a resource"
        ));
        assert!(has("/containers/main/variables/D:", "key 'nope' not found"));
        assert!(has(
            "/containers/main/variables/E:",
            "has unsupported first element"
        ));
        assert!(has(
            "/containers/main/variables/F:",
            "${resources} is malformed"
        ));
        assert!(has("/containers/main/variables/G:", "is malformed"));
        assert!(has(
            "/containers/main/variables/H:",
            "unterminated placeholder"
        ));
        assert!(has("/containers/main/files/~1g/content:", "ghost2"));
        assert!(has("/containers/main/volumes/~1v/source:", "ghost3"));
        assert!(has("/resources/db/params/a/0:", "ghost4"));
    }

    #[test]
    fn before_graph() {
        let w = json!({"apiVersion": "score.dev/v1b1", "metadata": {"name": "web"}, "containers": {
            "ca": {"image": "x", "before": {"ca": {"ready": "started"}, "zz": {"ready": "started"}, "cb": {"ready": "healthy"}}},
            "cb": {"image": "x", "before": {"ca": {"ready": "complete"}}},
            "cc": {"image": "x", "before": {"cb": {"ready": "complete"}}}}});
        assert_eq!(
            messages(w),
            vec![
                "/containers/ca/before/ca: container \"ca\" has a self-referencing before entry",
                "/containers/ca/before/zz: container \"ca\" before refers to unknown container \"zz\"",
                "/containers: containers before relationships contain a cycle: ca, cb",
            ]
        );
    }

    #[test]
    fn param_cycles() {
        let m = messages(doc(
            json!({"image": "x"}),
            json!({"a": {"type": "t", "params": {"x": "${resources.b.x}"}},
                   "b": {"type": "t", "params": {"x": {"y": "${resources.a.x}"}}},
                   "c": {"type": "t", "params": {"x": "${resources.a.x}"}}}),
        ));
        assert_eq!(
            m,
            vec!["/resources: a cycle exists involving resource param placeholders: a, b"]
        );
        let m = messages(doc(
            json!({"image": "x"}),
            json!({"a": {"type": "t", "params": {"x": "${resources.a.x}"}}}),
        ));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn file_sources_stay_inside() {
        for (source, ok) in [
            ("./a.txt", true),
            ("conf/a.txt", true),
            ("conf/../a.txt", true),
            ("../a.txt", false),
            ("conf/../../a.txt", false),
            ("/etc/passwd", false),
            ("C:\\x", false),
            ("..\\x", false),
            ("ab:c.txt", true),
        ] {
            let m = messages(doc(
                json!({"image": "x", "files": {"/t": {"source": source}}}),
                json!({}),
            ));
            assert_eq!(m.is_empty(), ok, "{source}: {m:?}");
        }
    }
}
