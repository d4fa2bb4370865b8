//! Resource identity: `(type, class, res_id)` within an app/env, and the
//! GUResID derived from it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The class a resource has when none is given.
pub const DEFAULT_CLASS: &str = "default";

/// Number of hex characters kept of the sha256 in a GUResID (160 bits).
///
/// Truncated because drivers derive names from it (Postgres identifiers and
/// Kubernetes names are limited to 63 characters) and 160 bits are plenty to
/// avoid collisions among one installation's resources.
pub const GURESID_LEN: usize = 40;

/// Identifies a resource node in one app/env.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceKey {
    #[serde(rename = "type")]
    pub res_type: String,
    pub class: String,
    pub res_id: String,
}

impl ResourceKey {
    pub fn new(
        res_type: impl Into<String>,
        class: impl Into<String>,
        res_id: impl Into<String>,
    ) -> Self {
        Self {
            res_type: res_type.into(),
            class: class.into(),
            res_id: res_id.into(),
        }
    }
}

/// `type.class#res_id`, the form used in messages and cycle reports.
impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}#{}", self.res_type, self.class, self.res_id)
    }
}

/// `modules.<workload>`: the res_id of a workload node.
pub fn workload_res_id(workload: &str) -> String {
    format!("modules.{workload}")
}

/// `modules.<workload>.externals.<name>`: a workload's private resource.
pub fn private_res_id(workload: &str, name: &str) -> String {
    format!("modules.{workload}.externals.{name}")
}

/// `shared.<id>`: a shared resource.
pub fn shared_res_id(id: &str) -> String {
    format!("shared.{id}")
}

/// The globally unique resource id: the first [`GURESID_LEN`] hex characters
/// of sha256 over the canonical JSON array `[app, env, type, class, res_id]`
/// (a JSON array, so no separator can make two tuples collide). Stable across
/// releases: drivers name external objects after it.
pub fn guresid(app_id: &str, env_id: &str, key: &ResourceKey) -> String {
    // Written directly rather than through a `Value`: this runs per node.
    let mut text = String::with_capacity(
        8 + app_id.len() + env_id.len() + key.res_type.len() + key.class.len() + key.res_id.len(),
    );
    text.push('[');
    for (i, part) in [app_id, env_id, &key.res_type, &key.class, &key.res_id]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            text.push(',');
        }
        crate::canonical::write_str(&mut text, part);
    }
    text.push(']');
    let mut hex = crate::canonical::sha256_hex(text.as_bytes());
    hex.truncate(GURESID_LEN);
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    // sha256(`["shop","dev","postgres","default","shared.db"]`)[..40]
    const PINNED: &str = "7dcb1388f983831cfeb10a679d8b52bb878496b8";

    #[test]
    fn guresid_is_stable_and_distinguishes_every_part() {
        let k = ResourceKey::new("postgres", "default", "shared.db");
        let g = guresid("shop", "dev", &k);
        assert_eq!(g.len(), GURESID_LEN);
        assert_eq!(g, guresid("shop", "dev", &k));
        // Pinned: changing the derivation would orphan every external object.
        assert_eq!(g, PINNED);
        assert_ne!(g, guresid("shop", "qa", &k));
        assert_ne!(g, guresid("sho", "pdev", &k));
        assert_ne!(
            g,
            guresid(
                "shop",
                "dev",
                &ResourceKey::new("postgres", "large", "shared.db")
            )
        );
        assert_eq!(k.to_string(), "postgres.default#shared.db");
    }
}
