//! YAML → `serde_json::Value`, with the line of every node and hard limits.
//!
//! We drive `saphyr-parser`'s event stream ourselves instead of using a DOM
//! or serde layer: one pass gives the value, a JSON-pointer → line map for
//! diagnostics, and the chance to stop early on hostile input. The builder is
//! iterative (an explicit stack), so deep nesting cannot overflow the native
//! stack; depth, total nodes after alias expansion (billion laughs) and input
//! size are capped.
//!
//! Scalars follow the YAML 1.2 core schema (what go-yaml v3 and thus the
//! Score reference implementation do for untyped values): `null`/`~`/empty,
//! `true`/`false`, decimal/`0o`/`0x` integers, floats; quoted scalars are
//! strings.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

use crate::placeholder::push_pointer_segment;

/// Caps that keep a hostile file from exhausting memory, time or stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of sequences and mappings.
    pub max_depth: usize,
    /// Most nodes in the resulting tree, counting every alias expansion.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // A large real Score file is a few KiB with < 1,000 nodes and depth < 10.
        Self {
            max_bytes: 1024 * 1024,
            max_depth: 64,
            max_nodes: 100_000,
        }
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("file is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("nesting deeper than {limit} levels")]
    TooDeep { limit: usize, line: usize },
    #[error("more than {limit} nodes (after expanding aliases)")]
    TooManyNodes { limit: usize, line: usize },
    #[error("invalid YAML: {message}")]
    Syntax { message: String, line: usize },
    #[error("empty document")]
    Empty,
    #[error("more than one YAML document; a Score file holds exactly one")]
    MultipleDocuments { line: usize },
    #[error("mapping keys must be plain strings, not sequences, mappings or aliases")]
    ComplexKey { line: usize },
    #[error("duplicate key '{key}'")]
    DuplicateKey { key: String, line: usize },
    #[error("alias refers to an unknown anchor")]
    UnknownAlias { line: usize },
    #[error("invalid {tag} value '{text}'")]
    BadTaggedScalar {
        tag: String,
        text: String,
        line: usize,
    },
}

impl YamlError {
    /// 1-based line of the problem, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::TooLarge { .. } | Self::Empty => None,
            Self::TooDeep { line, .. }
            | Self::TooManyNodes { line, .. }
            | Self::Syntax { line, .. }
            | Self::MultipleDocuments { line }
            | Self::ComplexKey { line }
            | Self::DuplicateKey { line, .. }
            | Self::UnknownAlias { line }
            | Self::BadTaggedScalar { line, .. } => Some(*line),
        }
    }
}

/// JSON pointer → 1-based line of the node (of its key, for mapping values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineMap {
    lines: HashMap<String, usize>,
}

impl LineMap {
    /// The line of `pointer`, or of its nearest ancestor that has one (nodes
    /// inside an alias expansion, or missing properties, have none).
    pub fn line(&self, pointer: &str) -> Option<usize> {
        let mut p = pointer;
        loop {
            if let Some(line) = self.lines.get(p) {
                return Some(*line);
            }
            let cut = p.rfind('/')?;
            p = &p[..cut];
        }
    }
}

/// A parsed document: its value and where each node came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub value: Value,
    pub lines: LineMap,
}

/// Parses one YAML document with the default [`Limits`].
pub fn parse(text: &str) -> Result<Document, YamlError> {
    parse_with_limits(text, Limits::default())
}

/// Parses one YAML document (a stream with more than one non-empty document is
/// rejected).
pub fn parse_with_limits(text: &str, limits: Limits) -> Result<Document, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    Builder::new(limits, true).run(Parser::new_from_str(text))
}

/// Parses one YAML document without recording lines: the fast path for
/// input that will most likely validate (re-parse with [`parse_with_limits`]
/// to locate problems).
pub fn parse_value(text: &str, limits: Limits) -> Result<Value, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    Builder::new(limits, false)
        .run(Parser::new_from_str(text))
        .map(|doc| doc.value)
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        first_node: usize,
        pointer_len: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        anchor: usize,
        first_node: usize,
        pointer_len: usize,
    },
}

struct Builder {
    limits: Limits,
    /// Whether to maintain `pointer` and `lines` (only needed for diagnostics).
    track_lines: bool,
    stack: Vec<Frame>,
    /// Pointer of the node being built (the top frame).
    pointer: String,
    lines: LineMap,
    /// anchor id → (value, node count), for aliases.
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    root: Option<Value>,
}

impl Builder {
    fn new(limits: Limits, track_lines: bool) -> Self {
        Self {
            limits,
            track_lines,
            stack: Vec::new(),
            pointer: String::new(),
            lines: LineMap::default(),
            anchors: HashMap::new(),
            nodes: 0,
            root: None,
        }
    }

    fn run(
        mut self,
        parser: Parser<'_, saphyr_parser::StrInput<'_>>,
    ) -> Result<Document, YamlError> {
        let mut documents = 0usize;
        for event in parser {
            let (event, span) = event.map_err(|e| {
                let line = e.marker().line();
                // The scanner has its own (higher) nesting guard for flow
                // collections; report it like ours.
                if e.info().contains("recursion limit") {
                    YamlError::TooDeep {
                        limit: self.limits.max_depth,
                        line,
                    }
                } else {
                    YamlError::Syntax {
                        message: e.info().to_owned(),
                        line,
                    }
                }
            })?;
            let line = span.start.line();
            match event {
                Event::DocumentStart(_) => documents += 1,
                Event::Scalar(text, style, anchor, tag) if documents > 1 => {
                    // A trailing `---` yields an empty second document; allow it.
                    let empty = text.is_empty() || (style == ScalarStyle::Plain && text == "~");
                    if !(empty && anchor == 0 && tag.is_none() && self.stack.is_empty()) {
                        return Err(YamlError::MultipleDocuments { line });
                    }
                }
                Event::SequenceStart(..) | Event::MappingStart(..) | Event::Alias(_)
                    if documents > 1 =>
                {
                    return Err(YamlError::MultipleDocuments { line });
                }
                Event::Scalar(text, style, anchor, tag) => {
                    self.scalar(text, style, anchor, tag.as_deref(), span)?;
                }
                Event::Alias(id) => {
                    if self.is_key_position() {
                        return Err(YamlError::ComplexKey { line });
                    }
                    let (value, count) = self
                        .anchors
                        .get(&id)
                        .cloned()
                        .ok_or(YamlError::UnknownAlias { line })?;
                    self.count(count, line)?;
                    self.record_child_line(line);
                    self.attach(value, line)?;
                }
                Event::SequenceStart(anchor, _) => {
                    self.open(line)?;
                    self.stack.push(Frame::Seq {
                        items: Vec::new(),
                        anchor,
                        first_node: self.nodes,
                        pointer_len: self.pointer.len(),
                    });
                }
                Event::MappingStart(anchor, _) => {
                    self.open(line)?;
                    self.stack.push(Frame::Map {
                        map: Map::new(),
                        key: None,
                        anchor,
                        first_node: self.nodes,
                        pointer_len: self.pointer.len(),
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => self.close(line)?,
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        let value = self.root.ok_or(YamlError::Empty)?;
        Ok(Document {
            value,
            lines: self.lines,
        })
    }

    fn count(&mut self, n: usize, line: usize) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(YamlError::TooManyNodes {
                limit: self.limits.max_nodes,
                line,
            });
        }
        Ok(())
    }

    fn is_key_position(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// The pointer segment the next value takes in its parent.
    fn push_child_segment(&mut self) {
        if !self.track_lines {
            return;
        }
        match self.stack.last() {
            Some(Frame::Seq { items, .. }) => {
                self.pointer.push('/');
                self.pointer.push_str(&items.len().to_string());
            }
            Some(Frame::Map { key: Some(key), .. }) => {
                self.pointer.push('/');
                push_pointer_segment(&mut self.pointer, key);
            }
            _ => {}
        }
    }

    fn record_child_line(&mut self, line: usize) {
        if !self.track_lines {
            return;
        }
        let len = self.pointer.len();
        self.push_child_segment();
        // A mapping value keeps the line of its key, recorded first.
        self.lines.lines.entry(self.pointer.clone()).or_insert(line);
        self.pointer.truncate(len);
    }

    /// Starts a sequence or mapping in value position.
    fn open(&mut self, line: usize) -> Result<(), YamlError> {
        if self.is_key_position() {
            return Err(YamlError::ComplexKey { line });
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError::TooDeep {
                limit: self.limits.max_depth,
                line,
            });
        }
        self.count(1, line)?;
        self.push_child_segment();
        if self.track_lines {
            self.lines.lines.entry(self.pointer.clone()).or_insert(line);
        }
        Ok(())
    }

    fn close(&mut self, line: usize) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (value, anchor, first_node, pointer_len) = match frame {
            Frame::Seq {
                items,
                anchor,
                first_node,
                pointer_len,
            } => (Value::Array(items), anchor, first_node, pointer_len),
            Frame::Map {
                map,
                anchor,
                first_node,
                pointer_len,
                ..
            } => (Value::Object(map), anchor, first_node, pointer_len),
        };
        // Back to the parent's pointer: strip this node's own segment.
        self.pointer.truncate(pointer_len);
        if let Some(cut) = self.pointer.rfind('/') {
            self.pointer.truncate(cut);
        }
        if anchor != 0 {
            let count = self.nodes - first_node + 1;
            self.anchors.insert(anchor, (value.clone(), count));
        }
        self.attach(value, line)
    }

    fn scalar(
        &mut self,
        text: std::borrow::Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        span: Span,
    ) -> Result<(), YamlError> {
        let line = span.start.line();
        self.count(1, line)?;
        if let Some(Frame::Map { key, map, .. }) = self.stack.last_mut()
            && key.is_none()
        {
            if map.contains_key(text.as_ref()) {
                return Err(YamlError::DuplicateKey {
                    key: text.into_owned(),
                    line,
                });
            }
            *key = Some(text.into_owned());
            self.record_child_line(line);
            if anchor != 0
                && let Some(Frame::Map { key: Some(k), .. }) = self.stack.last()
            {
                self.anchors.insert(anchor, (Value::String(k.clone()), 1));
            }
            return Ok(());
        }
        let value = resolve_scalar(text.as_ref(), style, tag).ok_or_else(|| {
            YamlError::BadTaggedScalar {
                tag: tag.map(ToString::to_string).unwrap_or_default(),
                text: text.chars().take(40).collect(),
                line,
            }
        })?;
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), 1));
        }
        self.record_child_line(line);
        self.attach(value, line)
    }

    fn attach(&mut self, value: Value, line: usize) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(value);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, .. }) => match key.take() {
                Some(k) => {
                    map.insert(k, value);
                }
                None => return Err(YamlError::ComplexKey { line }),
            },
        }
        Ok(())
    }
}

/// Resolves a scalar per the YAML 1.2 core schema; `None` when an explicit
/// core tag (`!!int`, ...) does not fit the text.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Option<Value> {
    if let Some(tag) = tag
        && tag.is_yaml_core_schema()
    {
        return match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => Some(Value::String(text.to_owned())),
            "null" => is_null(text).then_some(Value::Null),
            "bool" => parse_bool(text).map(Value::Bool),
            "int" => parse_int(text),
            "float" => parse_int(text).or_else(|| parse_float(text)),
            _ => Some(Value::String(text.to_owned())),
        };
    }
    if style != ScalarStyle::Plain || tag.is_some() {
        return Some(Value::String(text.to_owned()));
    }
    if is_null(text) {
        return Some(Value::Null);
    }
    if let Some(b) = parse_bool(text) {
        return Some(Value::Bool(b));
    }
    Some(
        parse_int(text)
            .or_else(|| parse_float(text))
            .unwrap_or_else(|| Value::String(text.to_owned())),
    )
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn parse_int(text: &str) -> Option<Value> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(rest) = digits.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = digits.strip_prefix("0x") {
        (16, rest)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok();
    match (negative, magnitude) {
        (false, Some(m)) => Some(Value::Number(Number::from(m))),
        (true, Some(m)) => {
            let m = i64::try_from(m).ok()?;
            Some(Value::Number(Number::from(-m)))
        }
        // Too large for 64 bits: keep it as a (lossy) float like YAML tools do.
        (_, None) if radix == 10 => parse_float(text),
        (_, None) => None,
    }
}

fn parse_float(text: &str) -> Option<Value> {
    // Core-schema floats: [-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac_part {
        Some(f) => all_digits(int_part) && all_digits(f) && !(int_part.is_empty() && f.is_empty()),
        None => !int_part.is_empty() && all_digits(int_part),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    if !(mantissa_ok && exponent_ok) {
        // `.inf` and `.nan` have no JSON form: they stay strings.
        return None;
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_follow_the_core_schema() {
        let doc = parse(
            "a: 1\nb: -2\nc: 1.5\nd: true\ne: ~\nf:\ng: '1'\nh: 0x1f\ni: 0o17\nj: 0644\nk: .inf\nl: !!str 5\nm: yes\nn: 1e3\n",
        )
        .unwrap();
        assert_eq!(
            doc.value,
            json!({"a": 1, "b": -2, "c": 1.5, "d": true, "e": null, "f": null, "g": "1",
                   "h": 31, "i": 15, "j": 644, "k": ".inf", "l": "5", "m": "yes", "n": 1000.0})
        );
    }

    #[test]
    fn lines_per_pointer() {
        let text = "a:\n  b:\n    - x\n    - y: 1\n  'c/d': 2\n";
        let doc = parse(text).unwrap();
        assert_eq!(doc.lines.line("/a"), Some(1));
        assert_eq!(doc.lines.line("/a/b"), Some(2));
        assert_eq!(doc.lines.line("/a/b/0"), Some(3));
        assert_eq!(doc.lines.line("/a/b/1/y"), Some(4));
        assert_eq!(doc.lines.line("/a/c~1d"), Some(5));
        // Unknown children fall back to the nearest ancestor.
        assert_eq!(doc.lines.line("/a/b/1/missing"), Some(4));
    }

    #[test]
    fn aliases_expand() {
        let doc = parse("a: &x {k: [1, 2]}\nb: *x\n").unwrap();
        assert_eq!(doc.value, json!({"a": {"k": [1, 2]}, "b": {"k": [1, 2]}}));
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let items = vec![prev; 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(matches!(err, YamlError::TooManyNodes { .. }), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(100_000);
        let err = parse(&text).unwrap_err();
        assert!(matches!(err, YamlError::TooDeep { .. }), "{err}");
        let text = "a:\n".to_owned() + &"- ".repeat(10_000) + "x\n";
        assert!(parse(&text).is_err());
    }

    #[test]
    fn other_errors() {
        assert_eq!(parse(""), Err(YamlError::Empty));
        assert!(matches!(
            parse("a: 1\na: 2\n"),
            Err(YamlError::DuplicateKey { line: 2, .. })
        ));
        assert!(matches!(
            parse("? [a]\n: 1\n"),
            Err(YamlError::ComplexKey { .. })
        ));
        assert!(matches!(
            parse("a: 1\n---\nb: 2\n"),
            Err(YamlError::MultipleDocuments { line: 3 })
        ));
        assert!(parse("---\na: 1\n---\n").is_ok());
        assert!(matches!(parse("a: [1\n"), Err(YamlError::Syntax { .. })));
        let big = "a".repeat(Limits::default().max_bytes + 1);
        assert!(matches!(parse(&big), Err(YamlError::TooLarge { .. })));
        assert!(matches!(
            parse("a: !!int x\n"),
            Err(YamlError::BadTaggedScalar { .. })
        ));
    }
}
