//! AWS Signature Version 4 (header form), as S3 wants it: canonical request,
//! string to sign, derived key, signature. Pure functions of their inputs
//! (the caller supplies the time), tested against AWS's published vectors.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Hex SHA-256 of the empty payload.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What is signed.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub method: &'a str,
    /// The path as sent, already URI-encoded (see [`encode_path`]).
    pub canonical_uri: &'a str,
    /// Query parameters, unencoded; sorted and encoded here.
    pub query: &'a [(String, String)],
    /// Every header to sign, `host` and `x-amz-date` included; names in any case.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body.
    pub payload_hash: &'a str,
    /// `YYYYMMDDTHHMMSSZ`, the same as the `x-amz-date` header.
    pub amz_date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// The result of signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The `Authorization` header value.
    pub authorization: String,
    pub signature: String,
    pub signed_headers: String,
    pub canonical_request: String,
    pub string_to_sign: String,
}

/// Signs `input` for `access_key_id` with `secret_key`.
pub fn sign(input: &Input<'_>, access_key_id: &str, secret_key: &str) -> Signed {
    let mut headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), canonical_header_value(v)))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        input.method,
        input.canonical_uri,
        canonical_query(input.query),
        input.payload_hash
    );
    let date = input.amz_date.get(..8).unwrap_or(input.amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", input.region, input.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        input.amz_date,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(secret_key, date, input.region, input.service);
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    Signed {
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        ),
        signature,
        signed_headers,
        canonical_request,
        string_to_sign,
    }
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`
fn signing_key(secret_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Trimmed, with inner runs of spaces folded to one.
fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parameters sorted by encoded name, then value; `name=value` joined by `&`.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (encode(k, true), encode(v, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// URI-encodes a path (S3 encodes each segment once and keeps the `/`).
pub fn encode_path(path: &str) -> String {
    encode(path, false)
}

/// RFC 3986 percent-encoding of everything but unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), and `/` unless `encode_slash`.
pub fn encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `x-amz-date` for a Unix time: `YYYYMMDDTHHMMSSZ` (UTC).
pub fn amz_date(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    // The AWS SigV4 test suite (service "service", 2015-08-30).
    const SUITE_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn suite(query: &[(String, String)]) -> Signed {
        let headers = h(&[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ]);
        sign(
            &Input {
                method: "GET",
                canonical_uri: "/",
                query,
                headers: &headers,
                payload_hash: EMPTY_SHA256,
                amz_date: "20150830T123600Z",
                region: "us-east-1",
                service: "service",
            },
            "AKIDEXAMPLE",
            SUITE_KEY,
        )
    }

    #[test]
    fn aws_test_suite_get_vanilla() {
        let s = suite(&[]);
        assert_eq!(
            s.canonical_request,
            format!(
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_SHA256}"
            )
        );
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn aws_test_suite_query_order() {
        let s = suite(&h(&[("Param2", "value2"), ("Param1", "value1")]));
        assert_eq!(
            s.signature,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    // The S3 examples of "Signature Calculations for the Authorization
    // Header" (examplebucket, 2013-05-24).
    const S3_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const S3_DATE: &str = "20130524T000000Z";

    fn s3(
        method: &str,
        uri: &str,
        query: &[(String, String)],
        extra: &[(&str, &str)],
        payload_hash: &str,
    ) -> Signed {
        let mut headers = h(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", S3_DATE),
            ("x-amz-content-sha256", payload_hash),
        ]);
        headers.extend(h(extra));
        sign(
            &Input {
                method,
                canonical_uri: uri,
                query,
                headers: &headers,
                payload_hash,
                amz_date: S3_DATE,
                region: "us-east-1",
                service: "s3",
            },
            "AKIAIOSFODNN7EXAMPLE",
            S3_KEY,
        )
    }

    #[test]
    fn s3_example_get_object() {
        let s = s3(
            "GET",
            "/test.txt",
            &[],
            &[("Range", "bytes=0-9")],
            EMPTY_SHA256,
        );
        assert_eq!(
            s.signed_headers,
            "host;range;x-amz-content-sha256;x-amz-date"
        );
        assert_eq!(
            s.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn s3_example_put_object() {
        let body = b"Welcome to Amazon S3.";
        let hash = hex::encode(Sha256::digest(body));
        assert_eq!(
            hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let uri = encode_path("/test$file.text");
        assert_eq!(uri, "/test%24file.text");
        let s = s3(
            "PUT",
            &uri,
            &[],
            &[
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            &hash,
        );
        assert_eq!(
            s.signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn s3_example_get_bucket_lifecycle() {
        let s = s3("GET", "/", &h(&[("lifecycle", "")]), &[], EMPTY_SHA256);
        assert_eq!(
            s.signature,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
    }

    #[test]
    fn s3_example_list_objects() {
        let s = s3(
            "GET",
            "/",
            &h(&[("prefix", "J"), ("max-keys", "2")]),
            &[],
            EMPTY_SHA256,
        );
        assert_eq!(
            s.signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn encoding_follows_rfc_3986() {
        assert_eq!(encode("a b/c~d", true), "a%20b%2Fc~d");
        assert_eq!(encode_path("/b/dir/é.txt"), "/b/dir/%C3%A9.txt");
        assert_eq!(
            canonical_query(&h(&[("b", "2"), ("a", "x y"), ("list-type", "2")])),
            "a=x%20y&b=2&list-type=2"
        );
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_369_353_600), S3_DATE);
        // 2015-08-30T12:36:00Z
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        // A leap day.
        assert_eq!(amz_date(1_709_208_000), "20240229T120000Z");
    }
}
