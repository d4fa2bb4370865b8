//! Deterministic names for what a driver creates: databases, DNS records,
//! buckets.
//!
//! A name is a readable part (`<app><sep><env><sep><resource>`, cut to fit)
//! followed by a short hash of the resource's GUResID, which keeps names of
//! different resources apart even when the readable parts are cut or
//! collide. The names of real resources come from these functions, so their
//! output must never change: an existing resource would lose its name and be
//! created again under another. The golden tests below pin it.
//!
//! ```
//! use podium_driver_sdk::{Context, naming};
//!
//! let ctx = Context {
//!     app_id: "shop".into(),
//!     env_id: "dev".into(),
//!     res_id: "modules.api.externals.db".into(),
//!     guresid: "abc".into(),
//!     ..Context::default()
//! };
//! let readable = naming::readable(&ctx, '-');
//! assert_eq!(readable, "shop-dev-api-db");
//! assert_eq!(naming::with_hash(&readable, '-', 63, &ctx), "shop-dev-api-db-ba7816bf");
//! ```

use sha2::{Digest, Sha256};

use crate::Context;

/// Hex digits of [`resource_hash`].
pub const HASH_LEN: usize = 8;

/// Short hex hash identifying the resource: the first [`HASH_LEN`] hex
/// digits of the SHA-256 of the GUResID or, for local test calls that have
/// none, of the context's identifying fields (app, env, resource type,
/// class and id, `\0`-separated).
pub fn resource_hash(ctx: &Context) -> String {
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

/// `modules.api.externals.db` → `api.db`: the parts every private resource
/// id shares say nothing.
pub fn short_res_id(res_id: &str) -> String {
    let rest = res_id.strip_prefix("modules.").unwrap_or(res_id);
    rest.replace(".externals.", ".")
}

/// Lower-case ASCII letters and digits; every other run of characters
/// becomes one `sep`, none at either end.
pub fn sanitize(text: &str, sep: char) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(sep) {
            out.push(sep);
        }
    }
    out.trim_end_matches(sep).to_owned()
}

/// The readable part of a name: app id, env id and [`short_res_id`], each
/// [`sanitize`]d, the empty ones left out, joined by `sep`.
pub fn readable(ctx: &Context, sep: char) -> String {
    [
        sanitize(&ctx.app_id, sep),
        sanitize(&ctx.env_id, sep),
        sanitize(&short_res_id(&ctx.res_id), sep),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(&sep.to_string())
}

/// `<base><sep><hash>` in at most `max_len` bytes: `base` is cut to fit
/// (on a character boundary) and trailing `sep`s are removed; an empty base
/// gives the [`resource_hash`] alone. `max_len` should leave room for the
/// hash: below `HASH_LEN + 1`, the result is the hash alone.
pub fn with_hash(base: &str, sep: char, max_len: usize, ctx: &Context) -> String {
    let mut end = base.len().min(max_len.saturating_sub(HASH_LEN + 1));
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    let base = base[..end].trim_end_matches(sep);
    let hash = resource_hash(ctx);
    if base.is_empty() {
        hash
    } else {
        format!("{base}{sep}{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GUResID as the host makes them (40 hex digits).
    const GURESID: &str = "3f1c0a9e5b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e";

    fn ctx(app: &str, env: &str, res: &str, res_type: &str, guresid: &str) -> Context {
        Context {
            app_id: app.into(),
            env_id: env.into(),
            res_id: res.into(),
            res_type: res_type.into(),
            res_class: "default".into(),
            guresid: guresid.into(),
            ..Context::default()
        }
    }

    /// The hashes in the names of real resources. The expected values were
    /// computed with the drivers' own copies of this code, before it moved
    /// here; they must never change.
    #[test]
    fn golden_hashes() {
        let long = "A_very.long--App".repeat(5);
        let cases = [
            (
                (
                    "shop",
                    "dev",
                    "modules.api.externals.db",
                    "postgres",
                    GURESID,
                ),
                "f002715a",
            ),
            (
                ("shop", "dev", "modules.api.externals.db", "s3", GURESID),
                "f002715a",
            ),
            // sha256("abc") starts with ba7816bf.
            (
                ("shop", "dev", "modules.api.externals.db", "dns", "abc"),
                "ba7816bf",
            ),
            (
                ("shop", "dev", "modules.api.externals.db", "postgres", ""),
                "415dc8f7",
            ),
            (
                ("shop", "dev", "modules.api.externals.db", "s3", ""),
                "1d6af080",
            ),
            (
                ("shop", "dev", "modules.api.externals.db", "dns", ""),
                "5799211f",
            ),
            (
                (long.as_str(), "PR 123", "shared.my-db", "dns", "g1"),
                "711430f6",
            ),
            (("sthree", "", "", "postgres", ""), "1795ce49"),
            (("", "", "", "postgres", ""), "ede53252"),
            (("", "", "", "s3", ""), "0d8665a8"),
            (("", "", "", "dns", ""), "231fb036"),
        ];
        for ((app, env, res, res_type, guresid), want) in cases {
            let c = ctx(app, env, res, res_type, guresid);
            assert_eq!(
                resource_hash(&c),
                want,
                "{app:?} {env:?} {res:?} {res_type:?} {guresid:?}"
            );
        }
    }

    /// Readable parts and whole names as the three SQL/DNS/S3 styles build
    /// them, pinned the same way.
    #[test]
    fn golden_names() {
        let long = "A_very.long--App".repeat(5);
        let cases = [
            (
                (long.as_str(), "PR 123", "shared.my-db", "g1"),
                '_',
                "a_very_long_appa_very_long_appa_very_long_appa_very_lo_711430f6",
            ),
            (
                (long.as_str(), "PR 123", "shared.my-db", "g1"),
                '-',
                "a-very-long-appa-very-long-appa-very-long-appa-very-lo-711430f6",
            ),
            (
                ("Shop-ÄÖ", "PR 123", "shared.my-db", "g"),
                '_',
                "shop_pr_123_shared_my_db_cd0aa985",
            ),
            (
                ("Shop-ÄÖ", "PR 123", "shared.my-db", "g"),
                '-',
                "shop-pr-123-shared-my-db-cd0aa985",
            ),
            (
                ("shop", "dev", "modules.api.externals.db", GURESID),
                '_',
                "shop_dev_api_db_f002715a",
            ),
            (("1app", "", "", "g"), '-', "1app-cd0aa985"),
        ];
        for ((app, env, res, guresid), sep, want) in cases {
            let c = ctx(app, env, res, "any", guresid);
            let name = with_hash(&readable(&c, sep), sep, 63, &c);
            assert_eq!(name, want, "{app:?} {env:?} {res:?} {guresid:?} {sep:?}");
            assert!(name.len() <= 63);
        }
    }

    #[test]
    fn sanitize_and_short_ids() {
        assert_eq!(sanitize("--Shop ÄÖ__x--", '-'), "shop-x");
        assert_eq!(sanitize("PR 123", '_'), "pr_123");
        assert_eq!(sanitize("ÄÖ", '_'), "");
        assert_eq!(short_res_id("modules.api.externals.db"), "api.db");
        assert_eq!(short_res_id("shared.cache"), "shared.cache");
    }

    #[test]
    fn with_hash_cuts_on_boundaries_and_drops_empty_bases() {
        let c = ctx("", "", "", "dns", "abc");
        assert_eq!(with_hash("", '-', 63, &c), "ba7816bf");
        assert_eq!(with_hash("abc---", '-', 63, &c), "abc-ba7816bf");
        // A multi-byte character across the cut is left out whole.
        let name = with_hash("aé", '-', HASH_LEN + 3, &c);
        assert_eq!(name, "a-ba7816bf");
        assert_eq!(with_hash("abc", '-', 3, &c), "ba7816bf");
    }

    #[test]
    fn local_calls_without_guresid_hash_the_context() {
        let a = ctx("shop", "dev", "shared.db", "postgres", "");
        let mut b = a.clone();
        b.res_class = "large".into();
        assert_ne!(resource_hash(&a), resource_hash(&b));
        assert_eq!(resource_hash(&a), resource_hash(&a.clone()));
    }
}
