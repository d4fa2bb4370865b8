//! Deterministic names for the database and its role.
//!
//! `<app>_<env>_<resource>_<hash>`: lower-case ASCII letters, digits and `_`,
//! starting with a letter, at most 63 bytes (PostgreSQL's `NAMEDATALEN - 1`;
//! longer names are silently truncated by the server, which could make two
//! resources collide). The readable part is cut to fit; the hash (of the
//! GUResID) keeps names of different resources apart even then.

use podium_driver_sdk::Context;
use podium_driver_sdk::naming;

/// PostgreSQL identifiers longer than this are truncated by the server.
pub const MAX_NAME_BYTES: usize = 63;

/// The name of the database and of its owner role for this resource.
pub fn resource_name(ctx: &Context) -> String {
    let readable = naming::readable(ctx, '_');
    let base = if readable.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable
    } else {
        // Unquoted identifiers must start with a letter; ours are quoted, but
        // users will type them unquoted in psql.
        format!("r_{readable}")
    };
    naming::with_hash(&base, '_', MAX_NAME_BYTES, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use podium_driver_sdk::naming::HASH_LEN;

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
        assert_ne!(resource_name(&a), resource_name(&b));
        assert_eq!(resource_name(&a), resource_name(&a.clone()));
    }

    /// Names of real databases and roles: they must never change (an existing resource
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
                "shop_dev_api_db_f002715a",
            ),
            (
                ("shop", "dev", "modules.api.externals.db", ""),
                "shop_dev_api_db_415dc8f7",
            ),
            (
                (long.as_str(), "PR 123", "shared.my-db", "g1"),
                "a_very_long_appa_very_long_appa_very_long_appa_very_lo_711430f6",
            ),
            (
                ("Shop-ÄÖ", "PR 123", "shared.my-db", "g"),
                "shop_pr_123_shared_my_db_cd0aa985",
            ),
            (("1app", "", "", "g"), "r_1app_cd0aa985"),
            (("sthree", "", "", ""), "sthree_1795ce49"),
            (("", "", "", ""), "r_ede53252"),
        ];
        for ((app, env, res, guresid), want) in cases {
            let c = ctx(app, env, res, guresid);
            assert_eq!(
                resource_name(&c),
                want,
                "{app:?} {env:?} {res:?} {guresid:?}"
            );
        }
    }
}
