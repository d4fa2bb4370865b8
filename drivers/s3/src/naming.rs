//! Deterministic bucket names: `<app>-<env>-<resource>-<hash>`, valid for S3
//! (3–63 characters, lower-case letters, digits and `-`, starting and ending
//! with a letter or digit, no reserved prefix or suffix). The readable part
//! is cut to fit; the hash (of the GUResID) keeps resources apart even then,
//! and bucket names are global on AWS, so it also keeps environments apart.

use podium_driver_sdk::Context;
use podium_driver_sdk::naming;

pub const MAX_LEN: usize = 63;
/// Prefixes S3 reserves.
const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];

/// The bucket name of a resource.
pub fn bucket_name(ctx: &Context) -> String {
    let mut base = naming::readable(ctx, '-');
    // The hash follows after a `-`, so `sthree` would become `sthree-...`.
    let with_dash = format!("{base}-");
    if RESERVED_PREFIXES.iter().any(|p| with_dash.starts_with(p)) {
        base = format!("b-{base}");
    }
    if base.is_empty() {
        // Nothing readable: `podium-<hash>`.
        base = "podium".to_owned();
    }
    naming::with_hash(&base, '-', MAX_LEN, ctx)
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
            (
                (
                    "shop",
                    "dev",
                    "modules.api.externals.db",
                    "3f1c0a9e5b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e",
                ),
                "shop-dev-api-db-f002715a",
            ),
            (
                ("shop", "dev", "modules.api.externals.db", ""),
                "shop-dev-api-db-1d6af080",
            ),
            (
                (long.as_str(), "PR 123", "shared.my-db", "g1"),
                "a-very-long-appa-very-long-appa-very-long-appa-very-lo-711430f6",
            ),
            (
                ("Shop-ÄÖ", "PR 123", "shared.my-db", "g"),
                "shop-pr-123-shared-my-db-cd0aa985",
            ),
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
