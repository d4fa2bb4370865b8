//! Kubernetes names and label values derived from Podium ids: always valid,
//! always the same for the same input, and never silently colliding (a name
//! that had to be changed or cut gets a short hash of the original).

use sha2::{Digest, Sha256};

/// Longest DNS-1123 label (Service, container, port and volume names).
pub const LABEL_MAX: usize = 63;
/// Longest DNS-1123 subdomain (ConfigMap, Secret, Deployment names).
pub const SUBDOMAIN_MAX: usize = 253;
/// Longest port name.
pub const PORT_NAME_MAX: usize = 15;

/// The first `len` hex digits of sha256(`input`).
pub fn short_hash(input: &str, len: usize) -> String {
    let mut hex = hex::encode(Sha256::digest(input.as_bytes()));
    hex.truncate(len);
    hex
}

/// Whether `s` is a DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most
/// 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= LABEL_MAX
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a DNS-1123 subdomain: dot-separated labels, at most 253
/// characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= SUBDOMAIN_MAX && s.split('.').all(is_dns_label)
}

/// Whether `s` is a DNS-1035 label (a DNS-1123 label starting with a
/// letter), as Service names must be.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// A DNS-1123 label of at most `max` characters made from `raw`: lower-cased,
/// other characters replaced by `-`. When that changed anything or had to
/// cut, a hash of `raw` is appended so distinct inputs stay distinct.
pub fn dns_label(raw: &str, max: usize) -> String {
    if raw.len() <= max && is_dns_label(raw) {
        return raw.to_owned();
    }
    let clean: String = raw
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    with_hash(&collapse_dashes(&clean), raw, max)
}

/// Like [`dns_label`], and the result starts with a letter (DNS-1035).
pub fn dns1035_label(raw: &str, max: usize) -> String {
    let label = dns_label(raw, max);
    if label.starts_with(|c: char| c.is_ascii_lowercase()) {
        label
    } else {
        with_hash(&format!("w-{label}"), raw, max)
    }
}

/// A label value (at most 63 characters of `[A-Za-z0-9._-]`, starting and
/// ending alphanumeric, or empty).
pub fn label_value(raw: &str) -> String {
    let valid = |s: &str| {
        s.len() <= LABEL_MAX
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if raw.is_empty() || valid(raw) {
        return raw.to_owned();
    }
    dns_label(raw, LABEL_MAX)
}

/// A ConfigMap/Secret data key (`[-._a-zA-Z0-9]+`, at most 253 characters)
/// for `raw`; changed or cut keys get a hash.
pub fn data_key(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_matches(['-', '.']).to_owned();
    if clean == raw && !clean.is_empty() && clean.len() <= SUBDOMAIN_MAX && clean != ".." {
        return clean;
    }
    let hash = short_hash(raw, 8);
    let keep = SUBDOMAIN_MAX - hash.len() - 1;
    let mut base: String = clean.chars().take(keep).collect();
    base = base.trim_matches(['-', '.']).to_owned();
    if base.is_empty() {
        hash
    } else {
        format!("{base}-{hash}")
    }
}

fn collapse_dashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    out.trim_matches('-').to_owned()
}

/// `base` cut so that `-<hash of raw>` fits in `max`.
fn with_hash(base: &str, raw: &str, max: usize) -> String {
    let hash = short_hash(raw, 8);
    let keep = max.saturating_sub(hash.len() + 1);
    let cut: String = base.chars().take(keep).collect();
    let cut = cut.trim_matches('-');
    if cut.is_empty() {
        // Hex may start with a digit; the callers needing a letter prefix it.
        hash
    } else {
        format!("{cut}-{hash}")
    }
}

/// `parts` joined by `-` as a DNS-1123 subdomain-safe name of at most
/// `max` characters, each part made a label first.
pub fn join(parts: &[&str], max: usize) -> String {
    let joined = parts
        .iter()
        .map(|p| dns_label(p, LABEL_MAX))
        .collect::<Vec<_>>()
        .join("-");
    if joined.len() <= max {
        joined
    } else {
        with_hash(&joined, &parts.join("/"), max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass_unchanged() {
        assert_eq!(dns_label("hello-web", LABEL_MAX), "hello-web");
        assert_eq!(dns1035_label("hello", LABEL_MAX), "hello");
        assert_eq!(label_value("Shop_v1.2"), "Shop_v1.2");
        assert_eq!(data_key("app.conf"), "app.conf");
    }

    #[test]
    fn invalid_names_are_fixed_with_a_hash() {
        let a = dns_label("My_Container", LABEL_MAX);
        let b = dns_label("my-container", LABEL_MAX);
        assert!(is_dns_label(&a), "{a}");
        assert_ne!(a, b);
        assert!(a.starts_with("my-container-"), "{a}");
        let long = "a".repeat(100);
        let cut = dns_label(&long, LABEL_MAX);
        assert!(cut.len() <= LABEL_MAX && is_dns_label(&cut), "{cut}");
        let digit = dns1035_label("9lives", LABEL_MAX);
        assert!(is_dns1035_label(&digit), "{digit}");
        let port = dns_label("a-very-long-port-name", PORT_NAME_MAX);
        assert!(port.len() <= PORT_NAME_MAX && is_dns_label(&port), "{port}");
        assert!(is_dns_label(&dns_label("---", LABEL_MAX)));
    }

    #[test]
    fn data_keys_and_label_values() {
        let k = data_key("/etc/app/config.yaml");
        assert!(k.starts_with("etc-app-config.yaml-"), "{k}");
        assert_ne!(data_key("/a/b"), data_key("/a-b"));
        assert_eq!(label_value(""), "");
        let v = label_value("-bad value-");
        assert!(v.len() <= 63 && v.starts_with("bad-value"), "{v}");
    }

    #[test]
    fn subdomains() {
        assert!(is_dns_subdomain("a.b-c.d"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(!is_dns_subdomain("A"));
        let j = join(&["hello", "web", "files"], SUBDOMAIN_MAX);
        assert_eq!(j, "hello-web-files");
        let j = join(&[&"x".repeat(60), &"y".repeat(60)], LABEL_MAX);
        assert!(is_dns_label(&j), "{j}");
    }
}
