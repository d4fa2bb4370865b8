//! Deterministic names for the database and its role.
//!
//! `<app>_<env>_<resource>_<hash>`: lower-case ASCII letters, digits and `_`,
//! starting with a letter, at most 63 bytes (PostgreSQL's `NAMEDATALEN - 1`;
//! longer names are silently truncated by the server, which could make two
//! resources collide). The readable part is cut to fit; the hash (of the
//! GUResID) keeps names of different resources apart even then.

use podium_driver_sdk::Context;
use sha2::{Digest, Sha256};

/// PostgreSQL identifiers longer than this are truncated by the server.
pub const MAX_NAME_BYTES: usize = 63;
/// Hex digits of the resource hash in a name.
const HASH_LEN: usize = 8;

/// The name of the database and of its owner role for this resource.
pub fn resource_name(ctx: &Context) -> String {
    let readable = [
        sanitize(&ctx.app_id),
        sanitize(&ctx.env_id),
        sanitize(&short_res_id(&ctx.res_id)),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join("_");
    let mut base = if readable.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable
    } else {
        // Unquoted identifiers must start with a letter; ours are quoted, but
        // users will type them unquoted in psql.
        format!("r_{readable}")
    };
    // All ASCII, so byte and char positions agree.
    base.truncate(MAX_NAME_BYTES - HASH_LEN - 1);
    let base = base.trim_end_matches('_');
    format!("{base}_{}", resource_hash(ctx))
}

/// Short hex hash identifying the resource: of the GUResID, or of the
/// context's identifying fields for local test calls that have none.
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
fn short_res_id(res_id: &str) -> String {
    let rest = res_id.strip_prefix("modules.").unwrap_or(res_id);
    rest.replace(".externals.", ".")
}

/// Lower-case ASCII letters and digits; every other run of characters
/// becomes one `_`.
fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(app: &str, env: &str, res: &str, guresid: &str) -> Context {
        Context {
            app_id: app.into(),
            env_id: env.into(),
            res_id: res.into(),
            res_type: "postgres".into(),
            res_class: "default".into(),
            guresid: guresid.into(),
            ..Context::default()
        }
    }

    fn valid(name: &str) -> bool {
        name.len() <= MAX_NAME_BYTES
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    #[test]
    fn readable_and_stable() {
        let c = ctx("shop", "dev", "modules.api.externals.db", "abc");
        let name = resource_name(&c);
        assert!(name.starts_with("shop_dev_api_db_"), "{name}");
        assert_eq!(name.len(), "shop_dev_api_db_".len() + HASH_LEN);
        assert_eq!(name, resource_name(&c));
        // sha256("abc") starts with ba7816bf.
        assert_eq!(name, "shop_dev_api_db_ba7816bf");
        assert!(valid(&name));
    }

    #[test]
    fn different_resources_differ_even_when_cut() {
        let long = "x".repeat(100);
        let a = resource_name(&ctx(&long, "dev", "shared.a", "g1"));
        let b = resource_name(&ctx(&long, "dev", "shared.b", "g2"));
        assert_ne!(a, b);
        assert!(valid(&a) && valid(&b), "{a} {b}");
        assert_eq!(a.len(), MAX_NAME_BYTES);
    }

    #[test]
    fn odd_characters_are_replaced() {
        let name = resource_name(&ctx("Shop-ÄÖ", "PR 123", "shared.my-db", "g"));
        assert!(name.starts_with("shop_pr_123_shared_my_db_"), "{name}");
        assert!(valid(&name));
        let name = resource_name(&ctx("1app", "", "", "g"));
        assert!(name.starts_with("r_1app_"), "{name}");
        assert!(valid(&name));
        let name = resource_name(&ctx("", "", "", "g"));
        assert!(valid(&name), "{name}");
    }

    #[test]
    fn local_calls_without_guresid_hash_the_context() {
        let a = ctx("shop", "dev", "shared.db", "");
        let mut b = a.clone();
        b.res_class = "large".into();
        assert_ne!(resource_hash(&a), resource_hash(&b));
        assert_eq!(resource_hash(&a), resource_hash(&a.clone()));
    }

    /// Names of real databases and roles: they must never change (an existing resource
    /// would be orphaned). Computed with the code as it was before the
    /// naming helpers moved into the SDK.
    #[test]
    fn golden_names() {
        let long = "A_very.long--App".repeat(5);
        let cases = [
            (("shop", "dev", "modules.api.externals.db", "3f1c0a9e5b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e"), "shop_dev_api_db_f002715a"),
            (("shop", "dev", "modules.api.externals.db", ""), "shop_dev_api_db_415dc8f7"),
            ((long.as_str(), "PR 123", "shared.my-db", "g1"), "a_very_long_appa_very_long_appa_very_long_appa_very_lo_711430f6"),
            (("Shop-ÄÖ", "PR 123", "shared.my-db", "g"), "shop_pr_123_shared_my_db_cd0aa985"),
            (("1app", "", "", "g"), "r_1app_cd0aa985"),
            (("sthree", "", "", ""), "sthree_1795ce49"),
            (("", "", "", ""), "r_ede53252"),
        ];
        for ((app, env, res, guresid), want) in cases {
            let c = ctx(app, env, res, guresid);
            assert_eq!(resource_name(&c), want, "{app:?} {env:?} {res:?} {guresid:?}");
        }
    }
}
