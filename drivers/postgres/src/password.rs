//! Generated passwords: 32 characters from 62 letters and digits (~190 bits),
//! drawn from `wasi:random/random` (the host's cryptographically secure
//! source). Letters and digits only, so the password survives URLs,
//! connection strings and shell quoting unescaped.

use podium_driver_sdk::Error;

pub const LENGTH: usize = 32;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh random password.
pub fn generate() -> Result<String, Error> {
    let mut out = String::with_capacity(LENGTH);
    // Rejection sampling needs more bytes than characters; 2x is plenty
    // (each byte is kept with probability 248/256).
    while out.len() < LENGTH {
        let bytes = random_bytes(LENGTH * 2)?;
        fill(&mut out, &bytes);
    }
    Ok(out)
}

/// A fresh random salt for a SCRAM verifier.
pub fn salt() -> Result<Vec<u8>, Error> {
    random_bytes(16)
}

/// Appends characters for `bytes` until the password is long enough. Bytes
/// at or above the largest multiple of the alphabet size are skipped, so
/// every character is equally likely.
fn fill(out: &mut String, bytes: &[u8]) {
    let limit = 256 - 256 % ALPHABET.len();
    for &b in bytes {
        if out.len() == LENGTH {
            return;
        }
        if usize::from(b) < limit {
            out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn random_bytes(n: usize) -> Result<Vec<u8>, Error> {
    let bytes = wasip2::random::random::get_random_bytes(n as u64);
    if bytes.len() != n {
        return Err(Error::failed(
            "the host's random source returned too few bytes",
        ));
    }
    Ok(bytes)
}

#[cfg(not(target_arch = "wasm32"))]
fn random_bytes(_n: usize) -> Result<Vec<u8>, Error> {
    Err(Error::unavailable(
        "random passwords come from the host's wasi:random; there is none outside the Podium host",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_uses_the_alphabet_and_rejects_biased_bytes() {
        let mut out = String::new();
        let bytes: Vec<u8> = (0..=255).collect();
        fill(&mut out, &bytes);
        assert_eq!(out.len(), LENGTH);
        assert!(out.bytes().all(|b| ALPHABET.contains(&b)));
        assert!(out.starts_with("ABCDEF"));

        // 248.. are above the last full multiple of 62 and are skipped.
        let mut out = String::new();
        fill(&mut out, &[248, 255, 0, 61]);
        assert_eq!(out, "A9");
    }

    #[test]
    fn no_random_source_natively() {
        assert_eq!(generate().err().map(|e| e.kind()), Some("unavailable"));
    }
}
