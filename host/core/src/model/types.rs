//! Resource types and their documented outputs, split into values and
//! secrets. The split is documentation and validation help; at run time a
//! driver's `outputs.secrets` is what is treated as secret.

/// One resource type's outputs schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    pub name: &'static str,
    /// Non-secret outputs.
    pub values: &'static [&'static str],
    /// Secret outputs.
    pub secrets: &'static [&'static str],
    /// Outputs are not fixed by the type (e.g. `environment`, whose outputs
    /// are the shared values).
    pub open: bool,
    /// Exactly one per environment, with `res_id` equal to the type name;
    /// created implicitly and depended on by every workload.
    pub implicit: bool,
    /// Provisioned by a driver. `environment` is not: it resolves from the
    /// shared values, so it never becomes a graph node.
    pub provisioned: bool,
}

impl ResourceType {
    /// Whether `key` is a documented secret output.
    pub fn is_secret(&self, key: &str) -> bool {
        self.secrets.contains(&key)
    }
    /// Whether `key` is a documented output (always true for open types).
    pub fn declares(&self, key: &str) -> bool {
        self.open || self.values.contains(&key) || self.secrets.contains(&key)
    }
}

const fn closed(
    name: &'static str,
    values: &'static [&'static str],
    secrets: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        name,
        values,
        secrets,
        open: false,
        implicit: false,
        provisioned: true,
    }
}

pub const POSTGRES: ResourceType = closed(
    "postgres",
    &["host", "port", "name", "database", "username"],
    &["password"],
);
pub const DNS: ResourceType = closed("dns", &["host"], &[]);
pub const S3: ResourceType = closed(
    "s3",
    &["bucket", "region", "endpoint"],
    &[
        "access_key_id",
        "secret_key",
        "aws_access_key_id",
        "aws_secret_access_key",
    ],
);
/// A workload; the Kubernetes driver may report what it rendered.
pub const WORKLOAD: ResourceType = closed("workload", &["name", "namespace"], &[]);
pub const K8S_CLUSTER: ResourceType = ResourceType {
    implicit: true,
    ..closed(
        "k8s-cluster",
        &["name", "url", "loadbalancer", "insecure_skip_tls_verify"],
        &["token", "ca_data", "client_cert", "client_key"],
    )
};
pub const K8S_NAMESPACE: ResourceType = ResourceType {
    implicit: true,
    ..closed("k8s-namespace", &["namespace"], &[])
};
/// Score's environment-variable resource: its outputs are the shared values
/// (secret ones stay secret).
pub const ENVIRONMENT: ResourceType = ResourceType {
    open: true,
    provisioned: false,
    ..closed("environment", &[], &[])
};

/// Every built-in type.
pub const BUILTIN: &[ResourceType] = &[
    POSTGRES,
    DNS,
    S3,
    WORKLOAD,
    K8S_CLUSTER,
    K8S_NAMESPACE,
    ENVIRONMENT,
];

/// The built-in type named `name`; other (custom) types are allowed and are
/// open, provisioned, not implicit.
pub fn builtin(name: &str) -> Option<&'static ResourceType> {
    BUILTIN.iter().find(|t| t.name == name)
}

/// Whether `name` is one of the implicit per-environment singletons.
pub fn is_implicit(name: &str) -> bool {
    builtin(name).is_some_and(|t| t.implicit)
}

/// Whether resources of type `name` become graph nodes.
pub fn is_provisioned(name: &str) -> bool {
    builtin(name).is_none_or(|t| t.provisioned)
}

/// The implicit per-environment types, in the order their nodes are created.
pub fn implicit_types() -> impl Iterator<Item = &'static ResourceType> {
    BUILTIN.iter().filter(|t| t.implicit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas() {
        assert!(POSTGRES.is_secret("password") && !POSTGRES.is_secret("host"));
        assert!(S3.declares("endpoint") && !S3.declares("password"));
        assert!(ENVIRONMENT.declares("ANYTHING"));
        assert!(is_implicit("k8s-cluster") && is_implicit("k8s-namespace"));
        assert!(!is_implicit("postgres") && !is_implicit("redis"));
        assert!(!is_provisioned("environment") && is_provisioned("redis"));
    }
}
