//! A small typed view of a Score workload kept as JSON. The set stores
//! workloads as `serde_json::Value` (so JSON-Patch applies); this reads only
//! what the core needs: the name, container images and resources.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Errors reading a workload or filling its images.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    #[error("workload is not a valid Score workload: {0}")]
    Invalid(String),
    #[error(
        "workload {workload:?}: container {container:?} has image \".\" but the deploy request gives no image for it (give one image for all, or one for \"{workload}.{container}\" or \"{container}\")"
    )]
    MissingImage { workload: String, container: String },
}

/// The part of a Score workload the core reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WorkloadView {
    pub metadata: MetadataView,
    #[serde(default)]
    pub containers: BTreeMap<String, ContainerView>,
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceRequest>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MetadataView {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ContainerView {
    pub image: String,
}

/// A Score resource request: `name → {type, class, id, params}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRequest {
    #[serde(rename = "type")]
    pub res_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Set for a shared resource (`res_id = shared.<id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

impl ResourceRequest {
    pub fn class(&self) -> &str {
        self.class.as_deref().unwrap_or(crate::ids::DEFAULT_CLASS)
    }
}

impl WorkloadView {
    /// Reads the view from a workload's JSON without copying it.
    pub fn from_value(workload: &Value) -> Result<Self, WorkloadError> {
        WorkloadView::deserialize(workload).map_err(|e| WorkloadError::Invalid(e.to_string()))
    }
}

/// A borrowed Score resource request, read without copying (the graph
/// reads every resource of every workload on each plan).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceUse<'a> {
    pub name: &'a str,
    pub res_type: &'a str,
    /// `default` when unset.
    pub class: &'a str,
    pub id: Option<&'a str>,
    pub params: Option<&'a Value>,
}

impl ResourceUse<'_> {
    /// The graph node this request of workload `workload` refers to, or
    /// `None` for types that are not provisioned (`environment`, which
    /// resolves from the shared values). This is how the pipeline maps a
    /// Score `${resources.<name>.…}` to the outputs of a node.
    pub fn key(&self, workload: &str) -> Option<crate::ids::ResourceKey> {
        if !super::types::is_provisioned(self.res_type) {
            return None;
        }
        let res_id = match self.id {
            Some(id) => crate::ids::shared_res_id(id),
            None => crate::ids::private_res_id(workload, self.name),
        };
        Some(crate::ids::ResourceKey::new(
            self.res_type,
            self.class,
            res_id,
        ))
    }
}

/// The resources of a workload, by name.
pub fn resources_of(workload: &Value) -> Result<Vec<ResourceUse<'_>>, WorkloadError> {
    let Some(resources) = workload.get("resources") else {
        return Ok(Vec::new());
    };
    let Some(map) = resources.as_object() else {
        return Err(WorkloadError::Invalid("resources: expected a map".into()));
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, r) in map {
        let field = |f: &str| -> Result<Option<&str>, WorkloadError> {
            match r.get(f) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(WorkloadError::Invalid(format!(
                    "resources.{name}.{f}: expected a string"
                ))),
            }
        };
        let res_type = field("type")?
            .ok_or_else(|| WorkloadError::Invalid(format!("resources.{name}.type: missing")))?;
        out.push(ResourceUse {
            name,
            res_type,
            class: field("class")?.unwrap_or(crate::ids::DEFAULT_CLASS),
            id: field("id")?,
            params: r.get("params").filter(|p| !p.is_null()),
        });
    }
    Ok(out)
}

/// Images given at deploy time for containers whose image is `"."`.
///
/// Lookup order for container `c` of workload `w`: `"w.c"`, then `"c"`, then
/// `all`. Images given for containers that do not use `"."` are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Images {
    /// One image for every `"."` container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<String>,
    /// Per container, keyed `"<container>"` or `"<workload>.<container>"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub containers: BTreeMap<String, String>,
}

impl Images {
    /// One image for all containers.
    pub fn one(image: impl Into<String>) -> Self {
        Self {
            all: Some(image.into()),
            containers: BTreeMap::new(),
        }
    }

    fn lookup(&self, workload: &str, container: &str) -> Option<&str> {
        self.containers
            .get(&format!("{workload}.{container}"))
            .or_else(|| self.containers.get(container))
            .map(String::as_str)
            .or(self.all.as_deref())
    }
}

/// Replaces every `image: "."` in `workload` by the deploy-time image;
/// refuses with the container's name when none is given.
pub fn fill_images(workload: &mut Value, images: &Images) -> Result<(), WorkloadError> {
    let view = WorkloadView::from_value(workload)?;
    let Some(containers) = workload
        .get_mut("containers")
        .and_then(Value::as_object_mut)
    else {
        return Ok(());
    };
    for (name, container) in containers.iter_mut() {
        if container.get("image").and_then(Value::as_str) != Some(".") {
            continue;
        }
        let image = images.lookup(&view.metadata.name, name).ok_or_else(|| {
            WorkloadError::MissingImage {
                workload: view.metadata.name.clone(),
                container: name.clone(),
            }
        })?;
        if let Some(obj) = container.as_object_mut() {
            obj.insert("image".into(), Value::String(image.to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn workload() -> Value {
        json!({
            "apiVersion": "score.dev/v1b1",
            "metadata": {"name": "web"},
            "containers": {"main": {"image": "."}, "sidecar": {"image": "envoy:1"}, "worker": {"image": "."}},
            "resources": {"db": {"type": "postgres", "id": "db"}, "env": {"type": "environment"}}
        })
    }

    #[test]
    fn view_reads_resources() {
        let v = WorkloadView::from_value(&workload()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.metadata.name, "web");
        assert_eq!(v.resources["db"].id.as_deref(), Some("db"));
        assert_eq!(v.resources["env"].class(), "default");
    }

    #[test]
    fn resource_uses_map_to_graph_keys() {
        let w = workload();
        let uses = resources_of(&w).unwrap_or_default();
        let keys: Vec<String> = uses
            .iter()
            .map(|u| u.key("web").map(|k| k.to_string()).unwrap_or_default())
            .collect();
        assert_eq!(keys, ["postgres.default#shared.db", ""]);
        assert!(resources_of(&serde_json::json!({"resources": {"x": {"type": 1}}})).is_err());
    }

    #[test]
    fn images_one_for_all_and_per_container() {
        let mut w = workload();
        fill_images(&mut w, &Images::one("reg/web:1")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w["containers"]["main"]["image"], "reg/web:1");
        assert_eq!(w["containers"]["sidecar"]["image"], "envoy:1");

        let mut w = workload();
        let images = Images {
            all: None,
            containers: [
                ("web.main".into(), "m:1".into()),
                ("worker".into(), "w:1".into()),
            ]
            .into(),
        };
        fill_images(&mut w, &images).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w["containers"]["main"]["image"], "m:1");
        assert_eq!(w["containers"]["worker"]["image"], "w:1");
    }

    #[test]
    fn missing_image_names_the_container() {
        let mut w = workload();
        let images = Images {
            all: None,
            containers: [("main".into(), "m:1".into())].into(),
        };
        let err = fill_images(&mut w, &images).err();
        assert_eq!(
            err,
            Some(WorkloadError::MissingImage {
                workload: "web".into(),
                container: "worker".into()
            })
        );
    }
}
