//! The `${a.b.c}` placeholder syntax shared by Score files and Podium
//! resource definitions.
//!
//! Rules (those of score-go's substitution, made strict where it is lax):
//! - `${path}` is a placeholder; `path` is split on unescaped dots and `\.`
//!   stands for a literal dot inside a segment (`${metadata.annotations.a\.b}`).
//! - `$$` is a literal `$` (so `$${x}` is the literal text `${x}`).
//! - A `$` followed by anything else is literal.
//! - Unlike score-go (which leaves a dangling `${` as text) an unterminated
//!   `${` and an empty segment (`${}`, `${a..b}`, `${a.}`) are errors with the
//!   byte offset, because they are almost always typos.
//!
//! Expansion: a string that is exactly one placeholder takes the resolved JSON
//! value as is (numbers stay numbers); inside a longer string non-string values
//! are JSON-encoded. Every resolved value says whether it is secret, and the
//! result is secret as soon as one of its parts is.

use std::ops::Range;

use serde_json::Value;

/// One piece of a tokenized string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Text outside placeholders, with `$$` already turned into `$`.
    Literal(String),
    /// A `${…}` placeholder.
    Placeholder {
        /// The dotted path split on unescaped dots, `\.` unescaped.
        path: Vec<String>,
        /// The reference exactly as written between `${` and `}`.
        raw: String,
        /// Byte range of the whole `${…}` in the input.
        span: Range<usize>,
    },
}

/// A syntax error in a placeholder; offsets are byte offsets into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    /// `${` without a closing `}`.
    #[error(
        "unterminated placeholder at byte {offset}: missing '}}' (use $$ to write a literal $)"
    )]
    Unterminated { offset: usize },
    /// `${}`, `${a..b}`, `${.a}` or `${a.}`.
    #[error("empty path segment in placeholder at byte {offset}")]
    EmptySegment { offset: usize },
}

impl PlaceholderError {
    /// Byte offset of the problem in the tokenized input.
    pub fn offset(&self) -> usize {
        match self {
            Self::Unterminated { offset } | Self::EmptySegment { offset } => *offset,
        }
    }
}

/// Splits `input` into literals and placeholders. Adjacent literal text is
/// merged into one `Literal`; an input without placeholders yields at most
/// one token (none for the empty string).
///
/// ```
/// use podium_score::placeholder::{Token, tokenize};
///
/// let tokens = tokenize(r"host=${resources.db.outputs.a\.b} cost=$$5").unwrap();
/// assert_eq!(tokens[0], Token::Literal("host=".into()));
/// let Token::Placeholder { path, raw, span } = &tokens[1] else { panic!() };
/// assert_eq!(path, &["resources", "db", "outputs", "a.b"]);
/// assert_eq!(raw, r"resources.db.outputs.a\.b");
/// assert_eq!(span, &(5..33));
/// assert_eq!(tokens[2], Token::Literal(" cost=$5".into()));
/// assert!(tokenize("${a..b}").is_err());
/// ```
pub fn tokenize(input: &str) -> Result<Vec<Token>, PlaceholderError> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < input.len() {
        // Copy the run up to the next `$` in one go: most text has none.
        let Some(rel) = input[i..].find('$') else {
            literal.push_str(&input[i..]);
            break;
        };
        literal.push_str(&input[i..i + rel]);
        let dollar = i + rel;
        match input.as_bytes().get(dollar + 1) {
            Some(b'$') => {
                literal.push('$');
                i = dollar + 2;
            }
            Some(b'{') => {
                let inner_start = dollar + 2;
                let Some(close_rel) = input[inner_start..].find('}') else {
                    return Err(PlaceholderError::Unterminated { offset: dollar });
                };
                let inner_end = inner_start + close_rel;
                let raw = &input[inner_start..inner_end];
                let path = split_path(raw, inner_start)?;
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(Token::Placeholder {
                    path,
                    raw: raw.to_owned(),
                    span: dollar..inner_end + 1,
                });
                i = inner_end + 1;
            }
            _ => {
                literal.push('$');
                i = dollar + 1;
            }
        }
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    Ok(tokens)
}

/// Splits a reference on unescaped dots; `base` is the byte offset of `raw`
/// in the original input, for error positions.
fn split_path(raw: &str, base: usize) -> Result<Vec<String>, PlaceholderError> {
    let mut path = Vec::new();
    let mut segment = String::new();
    let mut segment_start = base;
    let mut chars = raw.char_indices().peekable();
    while let Some((at, ch)) = chars.next() {
        match ch {
            '\\' if matches!(chars.peek(), Some((_, '.'))) => {
                segment.push('.');
                chars.next();
            }
            '.' => {
                if segment.is_empty() {
                    return Err(PlaceholderError::EmptySegment {
                        offset: segment_start,
                    });
                }
                path.push(std::mem::take(&mut segment));
                segment_start = base + at + 1;
            }
            _ => segment.push(ch),
        }
    }
    if segment.is_empty() {
        return Err(PlaceholderError::EmptySegment {
            offset: segment_start,
        });
    }
    path.push(segment);
    Ok(path)
}

/// Whether `input` contains at least one placeholder (syntax errors count as
/// "yes": expanding it will report them).
pub fn has_placeholders(input: &str) -> bool {
    match tokenize(input) {
        Ok(tokens) => tokens
            .iter()
            .any(|t| matches!(t, Token::Placeholder { .. })),
        Err(_) => true,
    }
}

/// A value a resolver returns for one placeholder.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub value: Value,
    /// True when the value comes from a secret (a secret output, a secret
    /// shared value); whatever contains it becomes secret too.
    pub secret: bool,
}

impl Resolved {
    /// A non-secret value.
    pub fn public(value: impl Into<Value>) -> Self {
        Self {
            value: value.into(),
            secret: false,
        }
    }

    /// A secret value.
    pub fn secret(value: impl Into<Value>) -> Self {
        Self {
            value: value.into(),
            secret: true,
        }
    }
}

/// The result of an expansion.
#[derive(Debug, Clone, PartialEq)]
pub struct Expanded {
    pub value: Value,
    /// True when any placeholder in the input resolved to a secret.
    pub secret: bool,
}

/// A failed expansion of one string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError<E> {
    #[error(transparent)]
    Syntax(#[from] PlaceholderError),
    /// The resolver refused a placeholder.
    #[error("invalid ref '{raw}': {error}")]
    Resolve {
        /// The reference as written between `${` and `}`.
        raw: String,
        /// Byte range of the `${…}` in the expanded string.
        span: Range<usize>,
        error: E,
    },
}

/// The resolver interface used by Score expansion: it receives the split path
/// of one placeholder (`["resources", "db", "host"]`).
pub trait Resolver {
    fn resolve(&self, path: &[String]) -> Result<Resolved, ResolveError>;
}

impl<F> Resolver for F
where
    F: Fn(&[String]) -> Result<Resolved, ResolveError>,
{
    fn resolve(&self, path: &[String]) -> Result<Resolved, ResolveError> {
        self(path)
    }
}

/// The closure form of a resolver that [`expand_string`] and [`expand_value`]
/// take, with the Score error type.
pub type Resolve<'a> = &'a dyn Fn(&[String]) -> Result<Resolved, ResolveError>;

/// Why a resolver could not produce a value: a plain message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(pub String);

impl ResolveError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Expands the placeholders of one string. A string that is exactly one
/// placeholder keeps the resolved JSON type; otherwise the result is a string
/// in which non-string values are JSON-encoded.
pub fn expand_string<E>(
    input: &str,
    resolve: &dyn Fn(&[String]) -> Result<Resolved, E>,
) -> Result<Expanded, ExpandError<E>> {
    let tokens = tokenize(input)?;
    if let [Token::Placeholder { path, raw, span }] = tokens.as_slice() {
        let resolved = resolve(path).map_err(|error| ExpandError::Resolve {
            raw: raw.clone(),
            span: span.clone(),
            error,
        })?;
        return Ok(Expanded {
            value: resolved.value,
            secret: resolved.secret,
        });
    }
    let mut out = String::with_capacity(input.len());
    let mut secret = false;
    for token in tokens {
        match token {
            Token::Literal(text) => out.push_str(&text),
            Token::Placeholder { path, raw, span } => {
                let resolved =
                    resolve(&path).map_err(|error| ExpandError::Resolve { raw, span, error })?;
                secret |= resolved.secret;
                push_json(&mut out, &resolved.value);
            }
        }
    }
    Ok(Expanded {
        value: Value::String(out),
        secret,
    })
}

/// Appends a value the way it appears inside a longer string: strings raw,
/// everything else as compact JSON.
fn push_json(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => out.push_str(s),
        other => out.push_str(&other.to_string()),
    }
}

/// An expansion error inside a JSON value, with the JSON pointer (RFC 6901)
/// of the string that failed, relative to the expanded value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {error}")]
pub struct ValueExpandError<E> {
    pub pointer: String,
    pub error: ExpandError<E>,
}

/// Expands every string inside `value` (object keys are left alone) and
/// reports every failing string, not only the first.
pub fn expand_value<E>(
    value: &Value,
    resolve: &dyn Fn(&[String]) -> Result<Resolved, E>,
) -> Result<Expanded, Vec<ValueExpandError<E>>> {
    let mut errors = Vec::new();
    let mut secret = false;
    let mut pointer = String::new();
    let value = expand_walk(value, resolve, &mut pointer, &mut secret, &mut errors);
    if errors.is_empty() {
        Ok(Expanded { value, secret })
    } else {
        Err(errors)
    }
}

fn expand_walk<E>(
    value: &Value,
    resolve: &dyn Fn(&[String]) -> Result<Resolved, E>,
    pointer: &mut String,
    secret: &mut bool,
    errors: &mut Vec<ValueExpandError<E>>,
) -> Value {
    match value {
        Value::String(s) => match expand_string(s, resolve) {
            Ok(expanded) => {
                *secret |= expanded.secret;
                expanded.value
            }
            Err(error) => {
                errors.push(ValueExpandError {
                    pointer: pointer.clone(),
                    error,
                });
                value.clone()
            }
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                    let out = expand_walk(item, resolve, pointer, secret, errors);
                    pointer.truncate(len);
                    out
                })
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let len = pointer.len();
                    pointer.push('/');
                    push_pointer_segment(pointer, key);
                    let out = expand_walk(item, resolve, pointer, secret, errors);
                    pointer.truncate(len);
                    (key.clone(), out)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Appends one RFC 6901 segment (`~` → `~0`, `/` → `~1`).
pub(crate) fn push_pointer_segment(pointer: &mut String, segment: &str) {
    for ch in segment.chars() {
        match ch {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            _ => pointer.push(ch),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn lit(s: &str) -> Token {
        Token::Literal(s.to_owned())
    }

    fn ph(path: &[&str], raw: &str, span: Range<usize>) -> Token {
        Token::Placeholder {
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            raw: raw.to_owned(),
            span,
        }
    }

    #[test]
    fn tokenize_cases() {
        assert_eq!(tokenize("").unwrap(), vec![]);
        assert_eq!(tokenize("abc").unwrap(), vec![lit("abc")]);
        assert_eq!(tokenize("$abc").unwrap(), vec![lit("$abc")]);
        assert_eq!(tokenize("a $$ b").unwrap(), vec![lit("a $ b")]);
        assert_eq!(tokenize("$${abc}").unwrap(), vec![lit("${abc}")]);
        assert_eq!(tokenize("$").unwrap(), vec![lit("$")]);
        assert_eq!(
            tokenize("$$${abc}").unwrap(),
            vec![lit("$"), ph(&["abc"], "abc", 2..8)]
        );
        assert_eq!(
            tokenize("x${metadata.name}y").unwrap(),
            vec![
                lit("x"),
                ph(&["metadata", "name"], "metadata.name", 1..17),
                lit("y")
            ]
        );
        assert_eq!(
            tokenize(r"${resources.db.outputs.a\.b}").unwrap(),
            vec![ph(
                &["resources", "db", "outputs", "a.b"],
                r"resources.db.outputs.a\.b",
                0..28
            )]
        );
        assert_eq!(
            tokenize("${resources.postgres.default#shared.db.outputs.host}").unwrap(),
            vec![ph(
                &[
                    "resources",
                    "postgres",
                    "default#shared",
                    "db",
                    "outputs",
                    "host"
                ],
                "resources.postgres.default#shared.db.outputs.host",
                0..52
            )]
        );
        // Non-ASCII text around and inside placeholders keeps byte offsets right.
        assert_eq!(
            tokenize("é${ü}").unwrap(),
            vec![lit("é"), ph(&["ü"], "ü", 2..7)]
        );
    }

    #[test]
    fn tokenize_errors_carry_offsets() {
        assert_eq!(
            tokenize("ab${x"),
            Err(PlaceholderError::Unterminated { offset: 2 })
        );
        assert_eq!(
            tokenize("${}"),
            Err(PlaceholderError::EmptySegment { offset: 2 })
        );
        assert_eq!(
            tokenize("${a..b}"),
            Err(PlaceholderError::EmptySegment { offset: 4 })
        );
        assert_eq!(
            tokenize("${a.}"),
            Err(PlaceholderError::EmptySegment { offset: 4 })
        );
        assert_eq!(
            tokenize("${.a}"),
            Err(PlaceholderError::EmptySegment { offset: 2 })
        );
    }

    fn resolver(path: &[String]) -> Result<Resolved, String> {
        match path.join(".").as_str() {
            "n" => Ok(Resolved::public(5)),
            "s" => Ok(Resolved::public("str")),
            "o" => Ok(Resolved::public(json!({"k": [1, 2]}))),
            "pw" => Ok(Resolved::secret("hunter2")),
            other => Err(format!("unknown '{other}'")),
        }
    }

    #[test]
    fn whole_placeholder_keeps_type_and_embedded_values_are_json() {
        let e = expand_string("${n}", &resolver).unwrap();
        assert_eq!(e.value, json!(5));
        assert!(!e.secret);
        let e = expand_string("${o}", &resolver).unwrap();
        assert_eq!(e.value, json!({"k": [1, 2]}));
        let e = expand_string("n=${n} o=${o} s=${s}", &resolver).unwrap();
        assert_eq!(e.value, json!(r#"n=5 o={"k":[1,2]} s=str"#));
    }

    #[test]
    fn secret_taints_the_result() {
        let e = expand_string("postgres://u:${pw}@h", &resolver).unwrap();
        assert_eq!(e.value, json!("postgres://u:hunter2@h"));
        assert!(e.secret);
        let e = expand_value(&json!({"a": ["${s}", {"b": "${pw}"}]}), &resolver).unwrap();
        assert!(e.secret);
        let e = expand_value(&json!({"a": ["${s}"]}), &resolver).unwrap();
        assert!(!e.secret);
    }

    #[test]
    fn expand_value_reports_every_failure_with_pointer() {
        let errors =
            expand_value(&json!({"a": [{"b/c": "${x}"}], "d": "${y"}), &resolver).unwrap_err();
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            vec![
                "/a/0/b~1c: invalid ref 'x': unknown 'x'".to_owned(),
                "/d: unterminated placeholder at byte 0: missing '}' (use $$ to write a literal $)"
                    .to_owned(),
            ]
        );
    }
}
