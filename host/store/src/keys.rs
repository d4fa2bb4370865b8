//! The key layout: `<kind>/<id…>` with `/`-separated parts. Ids are
//! validated by the API (no `/`), numbers are zero-padded so that key order
//! is numeric order.

pub fn join(parts: &[&str]) -> Vec<u8> {
    parts.join("/").into_bytes()
}

/// `parts` plus a trailing `/`: the prefix of every key below them.
pub fn prefix(parts: &[&str]) -> Vec<u8> {
    let mut k = join(parts);
    k.push(b'/');
    k
}

pub fn num(n: u64) -> String {
    format!("{n:020}")
}
