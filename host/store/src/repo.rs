//! Typed access to the records over any [`Store`].

use std::sync::{Arc, RwLock};

use podium_core::{
    Application, DeploymentSet, EnvironmentType, ResourceDefinition, TypeDecl, Values,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::keys::{join, num, prefix};
use crate::records::*;
use crate::seal::{Keyring, SealError, SecretKey};
use crate::secrets::{self, SecretKind};
use crate::{Batch, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("record {key}: {source}")]
    Seal {
        key: String,
        #[source]
        source: SealError,
    },
}

type Result<T> = std::result::Result<T, RepoError>;

/// One pending write: records that hold secrets stay JSON values until
/// [`Repo::commit`] seals them under the key ring's current key.
#[derive(Debug)]
enum Write {
    Bytes(Vec<u8>, Vec<u8>),
    Sealable(Vec<u8>, Value),
    Delete(Vec<u8>),
}

/// Writes to commit together ([`Repo::commit`]).
#[derive(Debug, Default)]
pub struct WriteSet {
    writes: Vec<Write>,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own records to JSON cannot fail (string keys only).
    serde_json::to_vec(value).unwrap_or_default()
}

/// The batch shape of a [`WriteSet`], for the put/delete helpers below.
struct Puts<'a>(&'a mut Vec<Write>);

impl Puts<'_> {
    fn put(&mut self, key: Vec<u8>, value: impl Into<Vec<u8>>) {
        self.0.push(Write::Bytes(key, value.into()));
    }
    fn delete(&mut self, key: Vec<u8>) {
        self.0.push(Write::Delete(key));
    }
}

impl WriteSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// A record that may hold secrets: sealed at commit.
    fn sealable<T: Serialize>(&mut self, key: Vec<u8>, value: &T) {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.writes.push(Write::Sealable(key, value));
    }
    pub fn env_type(&mut self, t: &EnvironmentType) -> &mut Self {
        Puts(&mut self.writes).put(join(&["envtype", &t.id]), encode(t));
        self
    }
    pub fn app(&mut self, a: &Application) -> &mut Self {
        Puts(&mut self.writes).put(join(&["app", &a.id]), encode(a));
        self
    }
    pub fn env(&mut self, e: &EnvRecord) -> &mut Self {
        Puts(&mut self.writes).put(join(&["env", &e.env.app, &e.env.id]), encode(e));
        self
    }
    pub fn delete_env(&mut self, app: &str, env: &str) -> &mut Self {
        Puts(&mut self.writes).delete(join(&["env", app, env]));
        Puts(&mut self.writes).delete(join(&["envstate", app, env]));
        self
    }
    /// An environment's lifecycle state; `previous` is the state it
    /// replaces (its expiry index entry moves with it).
    pub fn env_state(
        &mut self,
        app: &str,
        env: &str,
        state: &EnvState,
        previous: Option<&EnvState>,
    ) -> &mut Self {
        if let Some(at) = previous.and_then(|p| p.expires_at) {
            Puts(&mut self.writes).delete(expiry_key(at, app, env));
        }
        if let Some(at) = state.expires_at {
            Puts(&mut self.writes).put(expiry_key(at, app, env), Vec::new());
        }
        Puts(&mut self.writes).put(join(&["envstate", app, env]), encode(state));
        self
    }
    /// Removes an environment's state and its expiry index entry.
    pub fn delete_env_state(&mut self, app: &str, env: &str, state: &EnvState) -> &mut Self {
        if let Some(at) = state.expires_at {
            Puts(&mut self.writes).delete(expiry_key(at, app, env));
        }
        Puts(&mut self.writes).delete(join(&["envstate", app, env]));
        self
    }
    pub fn delete_app(&mut self, app: &str) -> &mut Self {
        Puts(&mut self.writes).delete(join(&["app", app]));
        Puts(&mut self.writes).delete(join(&["appdel", app]));
        self
    }
    /// Marks an app for removal once its last environment is torn down.
    pub fn app_deleting(&mut self, app: &str) -> &mut Self {
        Puts(&mut self.writes).put(join(&["appdel", app]), Vec::new());
        self
    }
    pub fn delete_env_type(&mut self, id: &str) -> &mut Self {
        Puts(&mut self.writes).delete(join(&["envtype", id]));
        self
    }
    /// A definition version, which becomes the latest.
    pub fn definition(&mut self, d: &ResourceDefinition) -> &mut Self {
        self.sealable(join(&["defv", &d.id, &num(d.version)]), d);
        Puts(&mut self.writes).put(join(&["def", &d.id]), d.version.to_string());
        self
    }
    /// Removes a definition from matching; its versions stay for history
    /// (resources it provisioned are deleted through the version they used).
    pub fn delete_definition(&mut self, id: &str) -> &mut Self {
        Puts(&mut self.writes).delete(join(&["def", id]));
        self
    }
    pub fn set(&mut self, s: &DeploymentSet) -> &mut Self {
        Puts(&mut self.writes).put(join(&["set", s.id()]), encode(s));
        self
    }
    /// The deployment's record without its request and resources (see
    /// [`WriteSet::deployment_request`], [`WriteSet::deployment_resource`]).
    pub fn deployment(&mut self, d: &Deployment) -> &mut Self {
        let mut header = serde_json::to_value(d).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut header {
            m.remove("request");
            m.remove("resources");
        }
        Puts(&mut self.writes).put(join(&["deploy", &d.id]), encode(&header));
        Puts(&mut self.writes).put(
            join(&["envdeploy", &d.app, &d.env, &num(d.seq)]),
            d.id.clone(),
        );
        self
    }
    /// What the deployment was asked to deploy: written once, at submit.
    pub fn deployment_request(&mut self, d: &Deployment) -> &mut Self {
        Puts(&mut self.writes).put(join(&["deployreq", &d.id]), encode(&d.request));
        self
    }
    /// Step `index` of a deployment's progress.
    pub fn deployment_resource(
        &mut self,
        deploy_id: &str,
        index: usize,
        r: &ResourceProgress,
    ) -> &mut Self {
        Puts(&mut self.writes).put(
            join(&["deployres", deploy_id, &num(index as u64)]),
            encode(r),
        );
        self
    }
    pub fn event(&mut self, e: &Event) -> &mut Self {
        Puts(&mut self.writes).put(join(&["event", &e.deploy_id, &num(e.seq)]), encode(e));
        self
    }
    pub fn active(&mut self, app: &str, env: &str, r: &ActiveRecord) -> &mut Self {
        self.sealable(join(&["active", app, env, &r.resource.guresid]), r);
        self
    }
    pub fn remove_active(&mut self, app: &str, env: &str, guresid: &str) -> &mut Self {
        Puts(&mut self.writes).delete(join(&["active", app, env, guresid]));
        self
    }
    pub fn values(&mut self, app: &str, v: &Values) -> &mut Self {
        self.sealable(join(&["values", app]), v);
        self.sealable(join(&["valuesv", app, &num(v.version)]), v);
        self
    }
    /// A resource type a platform engineer declared (built-in types are
    /// not stored).
    pub fn resource_type(&mut self, t: &TypeDecl) -> &mut Self {
        Puts(&mut self.writes).put(join(&["rtype", &t.name]), encode(t));
        self
    }
    pub fn profile(&mut self, p: &ProfileRecord) -> &mut Self {
        Puts(&mut self.writes).put(join(&["profile", &p.id]), encode(p));
        self
    }
    pub fn driver(&mut self, d: &DriverRecord, component: &[u8]) -> &mut Self {
        Puts(&mut self.writes).put(join(&["driver", &d.id]), encode(d));
        Puts(&mut self.writes).put(join(&["blob", &d.digest]), component.to_vec());
        self
    }
    pub fn token(&mut self, t: &TokenRecord) -> &mut Self {
        Puts(&mut self.writes).put(join(&["token", &t.id]), encode(t));
        self
    }
    pub fn delete_token(&mut self, id: &str) -> &mut Self {
        Puts(&mut self.writes).delete(join(&["token", id]));
        self
    }
    /// An audit entry. Entries are only ever added: nothing deletes them.
    pub fn audit(&mut self, a: &AuditRecord) -> &mut Self {
        Puts(&mut self.writes).put(join(&["audit", &num(a.seq)]), encode(a));
        self
    }
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// Typed records over a [`Store`]; the secret parts of records are sealed
/// with the key ring on the way in and opened on the way out.
#[derive(Clone)]
pub struct Repo {
    store: Arc<dyn Store>,
    /// Commits hold the read side while they seal and write; a rotation
    /// holds the write side, so no commit seals with a key being retired.
    ring: Arc<RwLock<Arc<Keyring>>>,
}

impl Repo {
    pub fn new(store: Arc<dyn Store>, ring: Keyring) -> Self {
        Repo {
            store,
            ring: Arc::new(RwLock::new(Arc::new(ring))),
        }
    }

    fn ring(&self) -> Arc<Keyring> {
        match self.ring.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The id of the key new secrets are sealed with.
    pub fn current_key_id(&self) -> String {
        self.ring().current_id().to_owned()
    }

    /// Commits `writes` atomically and durably.
    pub fn commit(&self, writes: WriteSet) -> Result<()> {
        if writes.writes.is_empty() {
            return Ok(());
        }
        let guard = match self.ring.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let batch = seal_batch(&guard, writes);
        self.store.commit(batch)?;
        drop(guard);
        Ok(())
    }

    /// Seals every secret with `next` and makes it the only key: records
    /// sealed with an older key (or, from before sealing existed, not at
    /// all) are rewritten in one atomic batch. Commits wait meanwhile.
    /// Returns the number of records rewritten.
    pub fn rotate_key(&self, next: SecretKey) -> Result<usize> {
        let mut guard = match self.ring.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let during = Arc::new(guard.rotating_to(next.clone()));
        // Readers that start now open both old and new seals.
        *guard = during.clone();
        let rewritten = self.reseal_with(&during)?;
        *guard = Arc::new(Keyring::new(next));
        Ok(rewritten)
    }

    /// Rewrites the records whose secrets are not sealed with the current
    /// key (plaintext from an older podium, or an older key still in the
    /// ring). Returns the number rewritten.
    pub fn reseal_stale(&self) -> Result<usize> {
        let guard = match self.ring.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let ring = guard.clone();
        self.reseal_with(&ring)
    }

    fn reseal_with(&self, ring: &Keyring) -> Result<usize> {
        let mut writes = WriteSet::new();
        for (prefix, kind) in SecretKind::ALL {
            for (key, bytes) in self.store.scan(prefix)? {
                let raw: Value =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(&key, &e.to_string()))?;
                if secrets::sealed_with(kind, &raw, ring.current_id()) {
                    continue;
                }
                let opened =
                    secrets::open(kind, raw, &key, ring).map_err(|source| RepoError::Seal {
                        key: String::from_utf8_lossy(&key).into_owned(),
                        source,
                    })?;
                writes.writes.push(Write::Sealable(key, opened));
            }
        }
        let n = writes.writes.len();
        if n > 0 {
            self.store.commit(seal_batch(ring, writes))?;
        }
        Ok(n)
    }

    pub fn next_id(&self) -> Result<u64> {
        Ok(self.store.next_id()?)
    }

    fn get<T: DeserializeOwned>(&self, key: Vec<u8>) -> Result<Option<T>> {
        match self.store.get(&key)? {
            None => Ok(None),
            Some(bytes) => self.decode(&key, &bytes).map(Some),
        }
    }

    fn scan<T: DeserializeOwned>(&self, prefix: Vec<u8>) -> Result<Vec<T>> {
        self.store
            .scan(&prefix)?
            .into_iter()
            .map(|(k, v)| self.decode(&k, &v))
            .collect()
    }

    /// Decodes a record, opening its sealed parts.
    fn decode<T: DeserializeOwned>(&self, key: &[u8], bytes: &[u8]) -> Result<T> {
        let Some(kind) = SecretKind::of(key) else {
            return decode(key, bytes);
        };
        let raw: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(key, &e.to_string()))?;
        let opened = match secrets::open(kind, raw.clone(), key, &self.ring()) {
            // A rotation finished between taking the ring and reading the
            // record: the ring it left opens it.
            Err(SealError::UnknownKey { .. }) => secrets::open(kind, raw, key, &self.ring()),
            other => other,
        }
        .map_err(|source| RepoError::Seal {
            key: String::from_utf8_lossy(key).into_owned(),
            source,
        })?;
        serde_json::from_value(opened).map_err(|e| corrupt(key, &e.to_string()))
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
    /// Whether the app goes once its last environment is torn down.
    pub fn app_deleting(&self, app: &str) -> Result<bool> {
        Ok(self.store.get(&join(&["appdel", app]))?.is_some())
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
    /// An environment's lifecycle state (the default: active, no expiry).
    pub fn env_state(&self, app: &str, env: &str) -> Result<EnvState> {
        Ok(self.get(join(&["envstate", app, env]))?.unwrap_or_default())
    }
    /// Environments whose expiry is at or before `now`, soonest first: an
    /// index scan, not a scan of every environment.
    pub fn expired_envs(&self, now: Timestamp) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (k, _) in self.store.scan(&prefix(&["envexp"]))? {
            let key = String::from_utf8_lossy(&k).into_owned();
            let mut parts = key.splitn(4, '/').skip(1);
            let (Some(at), Some(app), Some(env)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if at.parse::<i64>().unwrap_or(i64::MAX) > now.as_second() {
                break;
            }
            out.push((app.to_owned(), env.to_owned()));
        }
        Ok(out)
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
            Some((k, v)) => Ok(self.decode::<ResourceDefinition>(&k, &v)?.version),
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

    /// A deployment with its request and per-step progress. (Records
    /// written before those were split out carry them inline.)
    pub fn deployment(&self, id: &str) -> Result<Option<Deployment>> {
        let Some(mut d) = self.get::<Deployment>(join(&["deploy", id]))? else {
            return Ok(None);
        };
        if let Some(request) = self.get::<DeployRequest>(join(&["deployreq", id]))? {
            d.request = request;
        }
        let steps: Vec<ResourceProgress> = self.scan(prefix(&["deployres", id]))?;
        if !steps.is_empty() {
            d.resources = steps;
        }
        Ok(Some(d))
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
        let mut all = Vec::new();
        for d in self.scan::<Deployment>(prefix(&["deploy"]))? {
            if !d.status.is_final()
                && let Some(full) = self.deployment(&d.id)?
            {
                all.push(full);
            }
        }
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

    /// A declared (not built-in) resource type.
    pub fn resource_type(&self, name: &str) -> Result<Option<TypeDecl>> {
        self.get(join(&["rtype", name]))
    }
    /// The declared resource types, by name.
    pub fn resource_types(&self) -> Result<Vec<TypeDecl>> {
        self.scan(prefix(&["rtype"]))
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
    pub fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        self.get(join(&["token", id]))
    }
    pub fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.scan(prefix(&["token"]))
    }
    /// Audit entries with `seq > after`, oldest first, at most `limit`.
    pub fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        self.store
            .scan_after(&prefix(&["audit"]), &join(&["audit", &num(after)]), limit)?
            .into_iter()
            .map(|(k, v)| decode(&k, &v))
            .collect()
    }

    pub fn blob(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.store.get(&join(&["blob", digest]))?)
    }
}

/// The batch of `writes`, with the secrets of sealable records sealed.
fn seal_batch(ring: &Keyring, writes: WriteSet) -> Batch {
    let mut batch = Batch::default();
    for w in writes.writes {
        match w {
            Write::Bytes(k, v) => batch.put(k, v),
            Write::Delete(k) => batch.delete(k),
            Write::Sealable(k, mut v) => {
                if let Some(kind) = SecretKind::of(&k) {
                    secrets::seal(kind, &mut v, &k, ring);
                }
                batch.put(k, encode(&v));
            }
        }
    }
    batch
}

/// `envexp/<seconds, zero-padded>/<app>/<env>`: key order is expiry order.
fn expiry_key(at: Timestamp, app: &str, env: &str) -> Vec<u8> {
    join(&["envexp", &num(at.as_second().max(0) as u64), app, env])
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::SledStore;
    use podium_core::{DefinitionSpec, DriverInputs, SharedValue};
    use serde_json::json;

    fn repo(dir: &std::path::Path, key: &[u8; 32]) -> Repo {
        let store = SledStore::open(dir).unwrap();
        Repo::new(Arc::new(store), Keyring::new(SecretKey::from_bytes(key)))
    }

    fn definition(version: u64) -> ResourceDefinition {
        let mut secrets = serde_json::Map::new();
        secrets.insert("password".into(), json!("hunter2-def"));
        ResourceDefinition::new(
            "pg",
            version,
            DefinitionSpec {
                res_type: "postgres".into(),
                driver_type: "podium/postgres".into(),
                driver_inputs: DriverInputs {
                    values: serde_json::Map::new(),
                    secrets,
                },
                grants: vec![],
                criteria: vec![],
            },
        )
    }

    /// Every read path of a sealed kind opens it; the raw store holds no
    /// plaintext; rotation keeps everything readable under the new key only.
    #[test]
    fn sealed_records_read_back_through_every_path_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let r = repo(dir.path(), &key);
        let mut values = Values {
            version: 1,
            ..Values::default()
        };
        values
            .app
            .insert("TOKEN".into(), SharedValue::secret("hunter2-value"));
        let mut ws = WriteSet::new();
        ws.definition(&definition(1)).values("shop", &values);
        r.commit(ws).unwrap();

        let check = |r: &Repo| {
            assert_eq!(r.definition("pg").unwrap().unwrap(), definition(1));
            assert_eq!(r.definition_versions("pg").unwrap(), vec![definition(1)]);
            assert_eq!(r.definition_latest_version("pg").unwrap(), 1);
            assert_eq!(r.definitions().unwrap(), vec![definition(1)]);
            assert_eq!(r.values("shop").unwrap().unwrap(), values);
            assert_eq!(r.values_version("shop", 1).unwrap().unwrap(), values);
        };
        check(&r);
        let raw: Vec<u8> = r
            .store
            .scan(b"")
            .unwrap()
            .into_iter()
            .flat_map(|(k, v)| [k, v].concat())
            .collect();
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("hunter2"), "{text}");

        let next = SecretKey::generate();
        assert_eq!(r.rotate_key(SecretKey::from_bytes(&next)).unwrap(), 3);
        check(&r);
        drop(r);
        let old = repo(dir.path(), &key);
        assert!(matches!(
            old.definition("pg"),
            Err(RepoError::Seal {
                source: SealError::UnknownKey { .. },
                ..
            })
        ));
        drop(old);
        check(&repo(dir.path(), &next));
    }
}
