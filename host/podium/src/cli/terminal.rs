//! What reaches the terminal. Drivers control much of what the CLI shows
//! (log lines, event and error messages, plan summaries, outputs), and a
//! terminal obeys escape sequences in it: clearing the screen, setting the
//! window title, disguising links, rewriting earlier lines, on some
//! terminals answering with input. Every line the CLI prints for people goes
//! through [`clean`] (the [`outln!`] and [`errln!`] macros); JSON goes
//! through [`json`], which escapes every control character.

use std::fmt;
use std::io::Write as _;

use serde::Serialize;

/// `text` without control characters and escape sequences, so it shows as
/// plain text: C0 controls (but `\n` and `\t`), DEL, C1 controls
/// (U+0080–U+009F) and whole ANSI/VT sequences are removed:
///
/// - CSI, `ESC [` or U+009B, parameters and intermediates up to the final
///   byte (`ESC[2J`, `ESC[31m`);
/// - the string sequences OSC (`ESC ]`, U+009D), DCS (`ESC P`, U+0090), SOS
///   (`ESC X`, U+0098), PM (`ESC ^`, U+009E) and APC (`ESC _`, U+009F), up
///   to and including their terminator: BEL, ST (`ESC \`, U+009C), or the
///   end of the text;
/// - any other `ESC`, with the intermediates and final byte that follow it.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                _ => {
                    // nF/Fp/Fe/Fs: intermediates (0x20–0x2F), then one final
                    // byte (0x30–0x7E).
                    while chars
                        .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                        .is_some()
                    {}
                    chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
                }
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The rest of a CSI sequence: parameter bytes (0x30–0x3F), intermediate
/// bytes (0x20–0x2F), then the final byte (0x40–0x7E). Anything else ends
/// the sequence without being taken.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars
        .next_if(|c| ('\u{30}'..='\u{3f}').contains(c))
        .is_some()
    {}
    while chars
        .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
        .is_some()
    {}
    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
}

/// The rest of a string sequence, through its terminator (BEL, `ESC \` or
/// U+009C), or all of the text if it has none.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' if chars.peek() == Some(&'\\') => {
                chars.next();
                return;
            }
            _ => {}
        }
    }
}

/// Pretty JSON with every control character escaped: serde_json escapes
/// U+0000–U+001F itself; DEL and the C1 controls (U+007F–U+009F), which it
/// writes as they are, become `\u007f`...`\u009f`. The same JSON value, safe
/// to show.
pub fn json(value: &impl Serialize) -> serde_json::Result<String> {
    let mut bytes = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, Escaping::default());
    value.serialize(&mut serializer)?;
    // The serializer writes valid UTF-8; the fallback keeps this total.
    Ok(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into()))
}

/// serde_json's pretty formatter, escaping DEL and C1 controls in strings.
#[derive(Default)]
struct Escaping(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for Escaping {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if ('\u{7f}'..='\u{9f}').contains(&c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    // Pretty printing: delegated to serde_json's own formatter.
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes [`json`] and a newline to standard output.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let text = json(value)?;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

/// Writes `args`, [`clean`]ed, and a newline to standard output. Errors
/// writing (a closed pipe) are ignored, as `println!` would not.
pub fn out(args: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout().lock(), "{}", clean(&args.to_string()));
}

/// Writes `args`, [`clean`]ed, and a newline to standard error.
pub fn err(args: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{}", clean(&args.to_string()));
}

/// `println!` for the CLI: the line goes through [`clean`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::terminal::out(format_args!($($arg)*))
    };
}

/// `eprintln!` for the CLI: the line goes through [`clean`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::terminal::err(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_newlines_and_tabs_stay() {
        let text = "deploy 12 ✓ succeeded\n\tnext line: ünïcödé 日本";
        assert_eq!(clean(text), text);
    }

    #[test]
    fn c0_c1_and_del_are_removed() {
        assert_eq!(clean("a\u{7}b\u{8}c\rd\u{0}e\u{7f}f"), "abcdef");
        assert_eq!(clean("a\u{85}b\u{9c}c\u{80}d"), "abcd");
    }

    #[test]
    fn csi_sequences_are_removed_whole() {
        assert_eq!(clean("\u{1b}[2Jcleared"), "cleared");
        assert_eq!(clean("\u{1b}[1;31mred\u{1b}[0m"), "red");
        assert_eq!(clean("\u{1b}[?25l\u{1b}[3A\u{1b}[Kx"), "x");
        assert_eq!(clean("\u{9b}2Jcleared \u{9b}31mred"), "cleared red");
        // Cut short by a character that cannot be in a CSI.
        assert_eq!(clean("\u{1b}[12\nnext"), "\nnext");
        assert_eq!(clean("end\u{1b}["), "end");
    }

    #[test]
    fn string_sequences_are_removed_through_their_terminator() {
        assert_eq!(clean("\u{1b}]0;pwned\u{7}title"), "title");
        assert_eq!(
            clean("\u{1b}]8;;http://evil\u{1b}\\click\u{1b}]8;;\u{1b}\\ here"),
            "click here"
        );
        assert_eq!(clean("\u{9d}0;pwned\u{9c}ok"), "ok");
        assert_eq!(clean("\u{1b}P+q544e\u{1b}\\ok"), "ok");
        assert_eq!(
            clean("\u{90}$q\u{9c}a\u{1b}_apc\u{7}b\u{1b}^pm\u{1b}\\c"),
            "abc"
        );
        assert_eq!(clean("\u{1b}Xsos\u{9c}x\u{98}sos\u{9c}y"), "xy");
        // Unterminated: the rest is the sequence's.
        assert_eq!(clean("ok\u{1b}]0;never ends\nstill title"), "ok");
    }

    #[test]
    fn other_escape_sequences_are_removed() {
        assert_eq!(clean("a\u{1b}cb"), "ab"); // RIS: full reset
        assert_eq!(clean("a\u{1b}7b\u{1b}8c"), "abc"); // save/restore cursor
        assert_eq!(clean("a\u{1b}(0b"), "ab"); // charset: line drawing
        assert_eq!(clean("a\u{1b}#8b"), "ab"); // screen alignment test
        assert_eq!(clean("a\u{1b}"), "a");
        assert_eq!(clean("a\u{1b}\u{1b}[2Jb"), "ab");
        assert_eq!(clean("a\u{1b}\u{9b}2Jb"), "ab");
    }

    #[test]
    fn output_has_no_control_characters_at_all() {
        // Every pair of interesting characters, so no sequence can smuggle
        // a control character through.
        let alphabet = [
            '\u{1b}', '\u{9b}', '\u{9d}', '\u{9c}', '\u{7}', '\u{90}', '\u{7f}', '[', ']', '\\',
            '0', ';', 'm', 'P', '\n', 'a', 'é',
        ];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let text: String = [a, b, c, 'z'].iter().collect();
                    let out = clean(&text);
                    assert!(
                        !out.chars()
                            .any(|c| c.is_control() && c != '\n' && c != '\t'),
                        "{text:?} -> {out:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn json_escapes_every_control_character() {
        let value = serde_json::json!({
            "message": "\u{1b}]0;pwned\u{7} \u{9b}2J \u{7f} ok é",
            "list": ["\u{85}"],
        });
        let text = json(&value).expect("json");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
        assert!(
            text.contains(r"\u001b]0;pwned\u0007 \u009b2J \u007f ok é"),
            "{text}"
        );
        // The same value, pretty printed like serde_json does.
        let back: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, value);
        let plain = serde_json::json!({"a": [1, {"b": "c"}], "d": {}});
        assert_eq!(json(&plain).ok(), serde_json::to_string_pretty(&plain).ok());
    }

    #[test]
    fn yaml_output_escapes_control_characters() {
        for text in [
            "\u{1b}]0;pwned\u{7}",
            "\u{9b}2J",
            "line\n\u{1b}[2Jline\n",
            "a\tb\u{7f}",
        ] {
            let value = serde_json::json!({ "message": text, "list": [text] });
            let yaml = serde_saphyr::to_string(&value).expect("yaml");
            assert!(
                !yaml.chars().any(|c| c.is_control() && c != '\n'),
                "{text:?}: {yaml}"
            );
        }
    }

    /// Only this module prints: every other line of the CLI goes through
    /// `outln!`/`errln!` (cleaned) or `print_json` (escaped).
    #[test]
    fn the_cli_prints_only_through_this_module() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("src/cli") {
            let path = entry.expect("entry").path();
            let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
            if file == "terminal.rs" || !file.ends_with(".rs") {
                continue;
            }
            checked += 1;
            let text = std::fs::read_to_string(&path).expect("source");
            for (n, line) in text.lines().enumerate() {
                for raw in ["println!(", "print!(", "eprint!(", "dbg!("] {
                    assert!(
                        !line.contains(raw),
                        "cli/{file}:{}: {raw} bypasses cli::terminal",
                        n + 1
                    );
                }
            }
        }
        assert!(checked >= 7, "{checked} files checked in {}", dir.display());
    }
}
