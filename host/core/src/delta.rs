//! Deltas: changes to a deployment set.
//!
//! # Merge rules (what [`Delta::apply`] does)
//!
//! Applying a delta never changes the input set; it builds a new one:
//! 1. `modules.add` (name → full workload) inserts or **replaces** the module
//!    (add of an existing module replaces it; deploying a Score file is such
//!    an upsert). The workload's `metadata.name` must equal the name.
//! 2. `modules.update` (name → RFC 6902 JSON-Patch ops) patches the module as
//!    it is after step 1, so one delta may add a module and patch it. Updating
//!    a module that does not exist is an error; the ops apply atomically.
//! 3. `modules.remove` (names) drops modules. Removing a missing module is an
//!    error (it is almost always a typo), and so is naming a module in
//!    `remove` and also in `add` or `update` (ambiguous intent).
//! 4. `shared` (JSON-Patch ops) patches the `shared` object.
//! 5. The result is validated like any set (names, shared entries) and gets
//!    its content id; an empty delta gives back an equal set (same id).
//!
//! [`diff`] produces the delta between two sets, such that
//! `diff(a, b).apply(a) == b`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use json_patch::PatchOperation;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::set::{DeploymentSet, SetError};
use crate::model::workload::{Images, WorkloadError, WorkloadView, fill_images};

/// A change to a set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delta {
    #[serde(default)]
    pub modules: ModulesDelta,
    /// JSON-Patch ops on the `shared` object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared: Vec<PatchOperation>,
}

/// The `modules` part of a delta.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModulesDelta {
    /// Full workloads to insert or replace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add: BTreeMap<String, Value>,
    /// JSON-Patch ops per existing workload.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub update: BTreeMap<String, Vec<PatchOperation>>,
    /// Workloads to remove.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub remove: BTreeSet<String>,
}

/// Why a delta cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeltaError {
    #[error("modules.update.{module}: no module {module:?} in the set")]
    UpdateMissing { module: String },
    #[error("modules.remove: no module {module:?} in the set")]
    RemoveMissing { module: String },
    #[error("module {module:?} is both removed and added or updated by one delta")]
    Conflict { module: String },
    #[error("modules.update.{module}: {message}")]
    Patch { module: String, message: String },
    #[error("shared: {message}")]
    SharedPatch { message: String },
    #[error("the shared patch must leave `shared` an object of resources")]
    SharedNotObject,
    #[error("workload {module:?} appears twice in one deploy request")]
    Duplicate { module: String },
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Set(#[from] SetError),
}

impl Delta {
    /// Whether the delta changes nothing.
    pub fn is_empty(&self) -> bool {
        self.modules.add.is_empty()
            && self.modules.update.is_empty()
            && self.modules.remove.is_empty()
            && self.shared.is_empty()
    }

    /// The delta of a deploy request: upsert each Score workload (JSON),
    /// with `image: "."` filled from `images` (or refused naming the
    /// container).
    pub fn deploy(
        workloads: impl IntoIterator<Item = Value>,
        images: &Images,
    ) -> Result<Delta, DeltaError> {
        let mut delta = Delta::default();
        for mut workload in workloads {
            fill_images(&mut workload, images)?;
            let name = WorkloadView::from_value(&workload)?.metadata.name;
            if delta.modules.add.contains_key(&name) {
                return Err(DeltaError::Duplicate { module: name });
            }
            delta.modules.add.insert(name, workload);
        }
        Ok(delta)
    }

    /// Applies the delta to `set`, giving a new set (see the module docs for
    /// the merge rules).
    pub fn apply(&self, set: &DeploymentSet) -> Result<DeploymentSet, DeltaError> {
        for module in &self.modules.remove {
            if self.modules.add.contains_key(module) || self.modules.update.contains_key(module) {
                return Err(DeltaError::Conflict {
                    module: module.clone(),
                });
            }
        }
        let mut modules = set.modules().clone();
        for (name, workload) in &self.modules.add {
            modules.insert(name.clone(), Arc::new(workload.clone()));
        }
        for (name, ops) in &self.modules.update {
            let workload = modules
                .get_mut(name)
                .ok_or_else(|| DeltaError::UpdateMissing {
                    module: name.clone(),
                })?;
            // `patch_unsafe`: `json_patch::patch` undoes applied ops on failure
            // and panics when the undo fails (e.g. after a `move` from `/`).
            // The copies here are dropped on error anyway, so the delta stays
            // atomic without it.
            json_patch::patch_unsafe(Arc::make_mut(workload), ops).map_err(|e| {
                DeltaError::Patch {
                    module: name.clone(),
                    message: e.to_string(),
                }
            })?;
        }
        for name in &self.modules.remove {
            if modules.remove(name).is_none() {
                return Err(DeltaError::RemoveMissing {
                    module: name.clone(),
                });
            }
        }
        let shared = if self.shared.is_empty() {
            set.shared().clone()
        } else {
            let mut doc = set.shared_json();
            json_patch::patch_unsafe(&mut doc, &self.shared).map_err(|e| {
                DeltaError::SharedPatch {
                    message: e.to_string(),
                }
            })?;
            match doc {
                Value::Object(map) => map.into_iter().collect(),
                _ => return Err(DeltaError::SharedNotObject),
            }
        };
        Ok(DeploymentSet::from_shared(modules, shared)?)
    }
}

/// The delta that turns `a` into `b`: modules only in `b` are added whole,
/// modules in both that differ get JSON-Patch ops, modules only in `a` are
/// removed, and `shared` gets JSON-Patch ops. `diff(a, a)` is empty.
pub fn diff(a: &DeploymentSet, b: &DeploymentSet) -> Delta {
    let mut delta = Delta::default();
    for (name, new) in b.modules() {
        match a.module(name) {
            None => {
                delta.modules.add.insert(name.clone(), (**new).clone());
            }
            Some(old) if old != &**new => {
                delta
                    .modules
                    .update
                    .insert(name.clone(), json_patch::diff(old, new).0);
            }
            Some(_) => {}
        }
    }
    for name in a.modules().keys() {
        if b.module(name).is_none() {
            delta.modules.remove.insert(name.clone());
        }
    }
    if a.shared() != b.shared() {
        delta.shared = json_patch::diff(&a.shared_json(), &b.shared_json()).0;
    }
    delta
}
