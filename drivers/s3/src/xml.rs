//! Just enough XML for S3's answers: the text of simple elements
//! (`<Key>`, `<Code>`, `<IsTruncated>`, ...), entities decoded.

/// The text of every `<tag>...</tag>` in `xml`, in order.
pub fn all(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(unescape(&after[..end]));
        rest = &after[end + close.len()..];
    }
    out
}

/// The text of the first `<tag>...</tag>`.
pub fn first(xml: &str, tag: &str) -> Option<String> {
    all(xml, tag).into_iter().next()
}

/// Decodes the five predefined entities and character references.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let Some(semi) = after.find(';') else {
            out.push_str(after);
            return out;
        };
        let entity = &after[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e => e
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| e.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_elements_and_decodes_entities() {
        let xml = "<ListBucketResult><KeyCount>2</KeyCount><Contents><Key>a&amp;b.txt</Key></Contents>\
                   <Contents><Key>d/&lt;e&gt;&#233;&#x41;</Key></Contents></ListBucketResult>";
        assert_eq!(all(xml, "Key"), ["a&b.txt", "d/<e>éA"]);
        assert_eq!(first(xml, "KeyCount").as_deref(), Some("2"));
        assert_eq!(first(xml, "Missing"), None);
        assert_eq!(unescape("a & b &bogus; c"), "a & b &bogus; c");
    }
}
