//! Typed access to the records over any [`Store`].

use std::sync::Arc;

use podium_core::{Application, DeploymentSet, EnvironmentType, ResourceDefinition, Values};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::keys::{join, num, prefix};
use crate::records::*;
use crate::{Batch, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, RepoError>;

/// Writes to commit together ([`Repo::commit`]).
#[derive(Debug, Default)]
pub struct WriteSet {
    batch: Batch,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own records to JSON cannot fail (string keys only).
    serde_json::to_vec(value).unwrap_or_default()
}

impl WriteSet {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn env_type(&mut self, t: &EnvironmentType) -> &mut Self {
        self.batch.put(join(&["envtype", &t.id]), encode(t));
        self
    }
    pub fn app(&mut self, a: &Application) -> &mut Self {
        self.batch.put(join(&["app", &a.id]), encode(a));
        self
    }
    pub fn env(&mut self, e: &EnvRecord) -> &mut Self {
        self.batch
            .put(join(&["env", &e.env.app, &e.env.id]), encode(e));
        self
    }
    pub fn delete_env(&mut self, app: &str, env: &str) -> &mut Self {
        self.batch.delete(join(&["env", app, env]));
        self
    }
    pub fn delete_app(&mut self, app: &str) -> &mut Self {
        self.batch.delete(join(&["app", app]));
        self
    }
    pub fn delete_env_type(&mut self, id: &str) -> &mut Self {
        self.batch.delete(join(&["envtype", id]));
        self
    }
    /// A definition version, which becomes the latest.
    pub fn definition(&mut self, d: &ResourceDefinition) -> &mut Self {
        self.batch
            .put(join(&["defv", &d.id, &num(d.version)]), encode(d));
        self.batch.put(join(&["def", &d.id]), d.version.to_string());
        self
    }
    /// Removes a definition from matching; its versions stay for history
    /// (resources it provisioned are deleted through the version they used).
    pub fn delete_definition(&mut self, id: &str) -> &mut Self {
        self.batch.delete(join(&["def", id]));
        self
    }
    pub fn set(&mut self, s: &DeploymentSet) -> &mut Self {
        self.batch.put(join(&["set", s.id()]), encode(s));
        self
    }
    pub fn deployment(&mut self, d: &Deployment) -> &mut Self {
        self.batch.put(join(&["deploy", &d.id]), encode(d));
        self.batch.put(
            join(&["envdeploy", &d.app, &d.env, &num(d.seq)]),
            d.id.clone(),
        );
        self
    }
    pub fn event(&mut self, e: &Event) -> &mut Self {
        self.batch
            .put(join(&["event", &e.deploy_id, &num(e.seq)]), encode(e));
        self
    }
    pub fn active(&mut self, app: &str, env: &str, r: &ActiveRecord) -> &mut Self {
        self.batch
            .put(join(&["active", app, env, &r.resource.guresid]), encode(r));
        self
    }
    pub fn remove_active(&mut self, app: &str, env: &str, guresid: &str) -> &mut Self {
        self.batch.delete(join(&["active", app, env, guresid]));
        self
    }
    pub fn values(&mut self, app: &str, v: &Values) -> &mut Self {
        self.batch.put(join(&["values", app]), encode(v));
        self.batch
            .put(join(&["valuesv", app, &num(v.version)]), encode(v));
        self
    }
    pub fn profile(&mut self, p: &ProfileRecord) -> &mut Self {
        self.batch.put(join(&["profile", &p.id]), encode(p));
        self
    }
    pub fn driver(&mut self, d: &DriverRecord, component: &[u8]) -> &mut Self {
        self.batch.put(join(&["driver", &d.id]), encode(d));
        self.batch
            .put(join(&["blob", &d.digest]), component.to_vec());
        self
    }
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }
}

/// Typed records over a [`Store`].
#[derive(Clone)]
pub struct Repo {
    store: Arc<dyn Store>,
}

impl Repo {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Repo { store }
    }

    /// Commits `writes` atomically and durably.
    pub fn commit(&self, writes: WriteSet) -> Result<()> {
        if writes.batch.is_empty() {
            return Ok(());
        }
        Ok(self.store.commit(writes.batch)?)
    }

    pub fn next_id(&self) -> Result<u64> {
        Ok(self.store.next_id()?)
    }

    fn get<T: DeserializeOwned>(&self, key: Vec<u8>) -> Result<Option<T>> {
        match self.store.get(&key)? {
            None => Ok(None),
            Some(bytes) => decode(&key, &bytes).map(Some),
        }
    }

    fn scan<T: DeserializeOwned>(&self, prefix: Vec<u8>) -> Result<Vec<T>> {
        self.store
            .scan(&prefix)?
            .into_iter()
            .map(|(k, v)| decode(&k, &v))
            .collect()
    }

    pub fn env_type(&self, id: &str) -> Result<Option<EnvironmentType>> {
        self.get(join(&["envtype", id]))
    }
    pub fn env_types(&self) -> Result<Vec<EnvironmentType>> {
        self.scan(prefix(&["envtype"]))
    }
    pub fn app(&self, id: &str) -> Result<Option<Application>> {
        self.get(join(&["app", id]))
    }
    pub fn apps(&self) -> Result<Vec<Application>> {
        self.scan(prefix(&["app"]))
    }
    pub fn env(&self, app: &str, env: &str) -> Result<Option<EnvRecord>> {
        self.get(join(&["env", app, env]))
    }
    pub fn envs(&self, app: &str) -> Result<Vec<EnvRecord>> {
        self.scan(prefix(&["env", app]))
    }
    pub fn all_envs(&self) -> Result<Vec<EnvRecord>> {
        self.scan(prefix(&["env"]))
    }

    /// The latest version of a definition that is in use for matching.
    pub fn definition(&self, id: &str) -> Result<Option<ResourceDefinition>> {
        let key = join(&["def", id]);
        let Some(raw) = self.store.get(&key)? else {
            return Ok(None);
        };
        let version = std::str::from_utf8(&raw)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| corrupt(&key, "not a version number"))?;
        self.definition_version(id, version)
    }
    pub fn definition_version(&self, id: &str, version: u64) -> Result<Option<ResourceDefinition>> {
        self.get(join(&["defv", id, &num(version)]))
    }
    /// The newest version ever written of `id` (also after deletion), so a
    /// re-created definition continues its numbering.
    pub fn definition_latest_version(&self, id: &str) -> Result<u64> {
        match self.store.last(&prefix(&["defv", id]))? {
            None => Ok(0),
            Some((k, v)) => Ok(decode::<ResourceDefinition>(&k, &v)?.version),
        }
    }
    /// Every definition in use (latest versions), by id.
    pub fn definitions(&self) -> Result<Vec<ResourceDefinition>> {
        let mut out = Vec::new();
        for (k, _) in self.store.scan(&prefix(&["def"]))? {
            let id = String::from_utf8_lossy(&k["def/".len()..]).into_owned();
            if let Some(d) = self.definition(&id)? {
                out.push(d);
            }
        }
        Ok(out)
    }
    pub fn definition_versions(&self, id: &str) -> Result<Vec<ResourceDefinition>> {
        self.scan(prefix(&["defv", id]))
    }

    pub fn set(&self, id: &str) -> Result<Option<DeploymentSet>> {
        self.get(join(&["set", id]))
    }

    pub fn deployment(&self, id: &str) -> Result<Option<Deployment>> {
        self.get(join(&["deploy", id]))
    }
    /// The deployments of an env, oldest first.
    pub fn deployments(&self, app: &str, env: &str) -> Result<Vec<Deployment>> {
        let mut out = Vec::new();
        for (_, id) in self.store.scan(&prefix(&["envdeploy", app, env]))? {
            let id = String::from_utf8_lossy(&id).into_owned();
            if let Some(d) = self.deployment(&id)? {
                out.push(d);
            }
        }
        Ok(out)
    }
    /// Every deployment that is not final (pending or running), oldest first.
    pub fn unfinished_deployments(&self) -> Result<Vec<Deployment>> {
        let mut all: Vec<Deployment> = self
            .scan::<Deployment>(prefix(&["deploy"]))?
            .into_iter()
            .filter(|d| !d.status.is_final())
            .collect();
        all.sort_by_key(|d| d.seq);
        Ok(all)
    }
    /// Events of a deployment from `from_seq` on.
    pub fn events(&self, deploy_id: &str, from_seq: u64) -> Result<Vec<Event>> {
        let mut events: Vec<Event> = self.scan(prefix(&["event", deploy_id]))?;
        events.retain(|e| e.seq >= from_seq);
        Ok(events)
    }

    pub fn active(&self, app: &str, env: &str) -> Result<Vec<ActiveRecord>> {
        self.scan(prefix(&["active", app, env]))
    }

    pub fn values(&self, app: &str) -> Result<Option<Values>> {
        self.get(join(&["values", app]))
    }
    pub fn values_version(&self, app: &str, version: u64) -> Result<Option<Values>> {
        self.get(join(&["valuesv", app, &num(version)]))
    }

    pub fn profile(&self, id: &str) -> Result<Option<ProfileRecord>> {
        self.get(join(&["profile", id]))
    }
    pub fn profiles(&self) -> Result<Vec<ProfileRecord>> {
        self.scan(prefix(&["profile"]))
    }

    pub fn driver(&self, id: &str) -> Result<Option<DriverRecord>> {
        self.get(join(&["driver", id]))
    }
    pub fn drivers(&self) -> Result<Vec<DriverRecord>> {
        self.scan(prefix(&["driver"]))
    }
    pub fn blob(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.store.get(&join(&["blob", digest]))?)
    }
}

fn corrupt(key: &[u8], message: &str) -> RepoError {
    RepoError::Store(StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: message.to_owned(),
    })
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(key, &e.to_string()))
}
