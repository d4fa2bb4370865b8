//! Deterministic bucket names: `<app>-<env>-<resource>-<hash>`, valid for S3
//! (3–63 characters, lower-case letters, digits and `-`, starting and ending
//! with a letter or digit, no reserved prefix or suffix). The readable part
//! is cut to fit; the hash (of the GUResID) keeps resources apart even then,
//! and bucket names are global on AWS, so it also keeps environments apart.

use podium_driver_sdk::Context;
use sha2::{Digest, Sha256};

pub const MAX_LEN: usize = 63;
/// Hex digits of the resource hash in a name.
const HASH_LEN: usize = 8;
/// Prefixes S3 reserves.
const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];

/// The bucket name of a resource.
pub fn bucket_name(ctx: &Context) -> String {
    let res = ctx.res_id.strip_prefix("modules.").unwrap_or(&ctx.res_id);
    let res = res.replace(".externals.", ".");
    let mut base = [&ctx.app_id, &ctx.env_id, &res]
        .iter()
        .map(|p| sanitize(p))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    // The hash follows after a `-`, so `sthree` would become `sthree-...`.
    let with_dash = format!("{base}-");
    if RESERVED_PREFIXES.iter().any(|p| with_dash.starts_with(p)) {
        base = format!("b-{base}");
    }
    base.truncate(MAX_LEN - HASH_LEN - 1);
    let base = base.trim_end_matches('-');
    if base.is_empty() {
        format!("podium-{}", resource_hash(ctx))
    } else {
        format!("{base}-{}", resource_hash(ctx))
    }
}

/// Whether `name` is a valid S3 bucket name in the subset this driver uses
/// (no dots: dotted names break TLS for virtual-hosted requests).
pub fn is_valid(name: &str) -> bool {
    (3..=MAX_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
}

/// Short hex hash of the GUResID (or of the identifying context fields for
/// local test calls without one).
fn resource_hash(ctx: &Context) -> String {
    let digest = if ctx.guresid.is_empty() {
        let key = [
            ctx.app_id.as_str(),
            &ctx.env_id,
            &ctx.res_type,
            &ctx.res_class,
            &ctx.res_id,
        ]
        .join("\0");
        Sha256::digest(key.as_bytes())
    } else {
        Sha256::digest(ctx.guresid.as_bytes())
    };
    let mut hex = hex::encode(digest);
    hex.truncate(HASH_LEN);
    hex
}

/// Lower-case letters and digits; every other run of characters becomes `-`.
fn sanitize(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(app: &str, env: &str, res: &str, guresid: &str) -> Context {
        Context {
            app_id: app.into(),
            env_id: env.into(),
            res_id: res.into(),
            res_type: "s3".into(),
            res_class: "default".into(),
            guresid: guresid.into(),
            ..Context::default()
        }
    }

    #[test]
    fn readable_stable_and_valid() {
        let name = bucket_name(&ctx("Shop", "dev", "modules.api.externals.files", "abc"));
        // sha256("abc") starts with ba7816bf.
        assert_eq!(name, "shop-dev-api-files-ba7816bf");
        assert!(is_valid(&name));
    }

    #[test]
    fn long_and_odd_inputs_stay_valid_and_distinct() {
        let long = "A_very.long--App".repeat(10);
        let a = bucket_name(&ctx(&long, "pr_12", "shared.x", "g1"));
        let b = bucket_name(&ctx(&long, "pr_12", "shared.y", "g2"));
        assert!(is_valid(&a) && is_valid(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a.len(), MAX_LEN);
        for (app, want_prefix) in [
            ("xn--idn", "xn-idn-"),
            ("sthree", "b-sthree-"),
            ("amzn-s3-demo", "b-amzn-"),
            ("", ""),
        ] {
            let n = bucket_name(&ctx(app, "", "", "g"));
            assert!(is_valid(&n), "{n}");
            assert!(n.starts_with(want_prefix), "{n}");
        }
        assert!(bucket_name(&ctx("", "", "", "g")).starts_with("podium-"));
    }

    #[test]
    fn validity_rules() {
        for bad in [
            "ab",
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a.b",
            "xn--ab",
            "x-s3alias",
            &"a".repeat(64),
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
        assert!(is_valid("abc"));
    }

    /// Names of real buckets: they must never change (an existing resource
    /// would be orphaned). Computed with the code as it was before the
    /// naming helpers moved into the SDK.
    #[test]
    fn golden_names() {
        let long = "A_very.long--App".repeat(5);
        let cases = [
            (("shop", "dev", "modules.api.externals.db", "3f1c0a9e5b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e"), "shop-dev-api-db-f002715a"),
            (("shop", "dev", "modules.api.externals.db", ""), "shop-dev-api-db-1d6af080"),
            ((long.as_str(), "PR 123", "shared.my-db", "g1"), "a-very-long-appa-very-long-appa-very-long-appa-very-lo-711430f6"),
            (("Shop-ÄÖ", "PR 123", "shared.my-db", "g"), "shop-pr-123-shared-my-db-cd0aa985"),
            (("1app", "", "", "g"), "1app-cd0aa985"),
            (("sthree", "", "", ""), "b-sthree-c25b332a"),
            (("", "", "", ""), "podium-0d8665a8"),
        ];
        for ((app, env, res, guresid), want) in cases {
            let c = ctx(app, env, res, guresid);
            assert_eq!(bucket_name(&c), want, "{app:?} {env:?} {res:?} {guresid:?}");
        }
    }
}
