//! The built-in drivers, compiled to `wasm32-wasip2` components by this
//! crate's build script and embedded in the binary.

mod components {
    include!(concat!(env!("OUT_DIR"), "/components.rs"));
}

/// A driver shipped inside the `podium` binary.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The id definitions use in `driver_type`, e.g. `podium/echo`.
    pub id: &'static str,
    /// The component bytes.
    pub component: &'static [u8],
    pub description: &'static str,
}

/// Every built-in driver.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        id: "podium/echo",
        component: components::ECHO,
        description: "returns its params and driver values as outputs, its driver secrets as secrets",
    },
    Builtin {
        id: "podium/template",
        component: components::TEMPLATE,
        description: "renders outputs, secrets and state from minijinja templates in its driver values",
    },
    Builtin {
        id: "podium/postgres",
        component: components::POSTGRES,
        description: "a database and its owner login role (generated password) on an existing PostgreSQL server",
    },
    Builtin {
        id: "podium/powerdns",
        component: components::POWERDNS,
        description: "an A, AAAA or CNAME record in a zone, through the PowerDNS HTTP API",
    },
    Builtin {
        id: "podium/s3",
        component: components::S3,
        description: "a bucket through the S3 API (path-style, AWS Signature V4 computed in the driver)",
    },
    Builtin {
        id: "podium/kubernetes",
        component: components::KUBERNETES,
        description: "renders Score workloads to Kubernetes objects; server-side apply with prune, or files for GitOps",
    },
];

/// The built-in driver with this id.
pub fn get(id: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.id == id)
}
