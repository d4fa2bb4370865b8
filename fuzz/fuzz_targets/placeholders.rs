//! The `${…}` tokenizer, expansion and definition references on arbitrary
//! text: no panic, spans and offsets in bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podium_core::placeholders::parse_reference;
use podium_score::placeholder::{Resolved, Token, expand_string, tokenize};

fuzz_target!(|text: &str| {
    match tokenize(text) {
        Ok(tokens) => {
            for t in &tokens {
                if let Token::Placeholder { path, raw, span } = t {
                    assert_eq!(text.get(span.clone()), Some(format!("${{{raw}}}").as_str()));
                    let _ = parse_reference(path);
                }
            }
        }
        Err(e) => assert!(e.offset() <= text.len() && text.is_char_boundary(e.offset())),
    }
    let resolve = |path: &[String]| -> Result<Resolved, String> {
        match path.first().map(String::as_str) {
            Some("n") => Ok(Resolved::public(1)),
            Some("s") => Ok(Resolved::secret("x")),
            _ => Err(path.join(".")),
        }
    };
    let _ = expand_string(text, &resolve);
});
