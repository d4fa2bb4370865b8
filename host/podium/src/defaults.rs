//! What a fresh data directory starts with, so that
//! `podium deploy -f examples/hello/score.yaml --app hello --env dev` works
//! with no infrastructure: the env type `development` and definitions that
//! route every built-in resource type to built-in drivers (workloads to
//! `podium/kubernetes` in GitOps mode, into `<data>/gitops`). Seeded once
//! (when no env type exists); operators may change or delete them afterwards.

use std::path::Path;

use podium_core::{EnvironmentType, ResourceDefinition};
use podium_store::{Repo, WriteSet};
use serde_json::json;

pub const DEV_ENV_TYPE: &str = "development";

fn definitions(gitops_dir: &str) -> Vec<serde_json::Value> {
    let dev = json!([{"env_type": DEV_ENV_TYPE}]);
    vec![
        json!({
            "id": "dev-k8s-cluster", "type": "k8s-cluster", "driver_type": "podium/echo",
            "driver_inputs": {"values": {"name": "podium-dev", "url": "https://kubernetes.invalid"}},
            "criteria": dev,
        }),
        json!({
            "id": "dev-k8s-namespace", "type": "k8s-namespace", "driver_type": "podium/template",
            "driver_inputs": {"values": {"templates": {
                "outputs": "namespace: \"{{ context.app_id }}-{{ context.env_id }}\""
            }}},
            "criteria": dev,
        }),
        // Real manifests, written as files for Argo CD or Flux to pick up.
        json!({
            "id": "dev-workload", "type": "workload", "driver_type": "podium/kubernetes",
            "driver_inputs": {"values": {
                "mode": "gitops",
                "namespace": "${resources.k8s-namespace.outputs.namespace}",
                "gitops_dir": gitops_dir,
            }},
            "grants": [format!("file://{gitops_dir}")],
            "criteria": dev,
        }),
        json!({
            "id": "dev-postgres", "type": "postgres", "driver_type": "podium/template",
            "driver_inputs": {"values": {"templates": {
                "outputs": "host: localhost\nport: 5432\nname: \"{{ context.res_id | replace('.', '-') }}\"\ndatabase: \"{{ context.res_id | replace('.', '-') }}\"\nusername: \"{{ context.app_id }}\"",
                "secrets": "password: \"dev-{{ context.guresid[:16] }}\""
            }}},
            "criteria": dev,
        }),
        json!({
            "id": "dev-dns", "type": "dns", "driver_type": "podium/template",
            "driver_inputs": {"values": {"templates": {
                "outputs": "host: \"{{ context.guresid[:8] }}.{{ context.env_id }}.{{ context.app_id }}.localhost\""
            }}},
            "criteria": dev,
        }),
        json!({
            "id": "dev-s3", "type": "s3", "driver_type": "podium/template",
            "driver_inputs": {"values": {"templates": {
                "outputs": "bucket: \"{{ context.app_id }}-{{ context.env_id }}-{{ context.guresid[:8] }}\"\nregion: local\nendpoint: http://localhost:9000",
                "secrets": "access_key_id: dev\nsecret_key: \"dev-{{ context.guresid[:16] }}\"\naws_access_key_id: dev\naws_secret_access_key: \"dev-{{ context.guresid[:16] }}\""
            }}},
            "criteria": dev,
        }),
    ]
}

/// Seeds the defaults into an empty data directory. Workloads of the
/// development env type become Kubernetes manifests in `<data>/gitops`.
pub fn seed(repo: &Repo, data_dir: &Path) -> anyhow::Result<()> {
    if repo.env_type(DEV_ENV_TYPE)?.is_some() || !repo.env_types()?.is_empty() {
        return Ok(());
    }
    let gitops = data_dir.join("gitops");
    std::fs::create_dir_all(&gitops)?;
    let gitops = gitops.canonicalize()?;
    let gitops = gitops.to_str().ok_or_else(|| {
        anyhow::anyhow!("the data directory path is not UTF-8: {}", gitops.display())
    })?;
    let mut ws = WriteSet::new();
    ws.env_type(&EnvironmentType {
        id: DEV_ENV_TYPE.to_owned(),
    });
    for mut d in definitions(gitops) {
        d["version"] = json!(1);
        let def: ResourceDefinition = serde_json::from_value(d)?;
        ws.definition(&def);
    }
    repo.commit(ws)?;
    Ok(())
}
