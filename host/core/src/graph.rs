//! The resource graph of one deployment: what must exist, which definition
//! fulfils each node, what depends on what, and what can run in parallel.
//!
//! Nodes, in creation order (which is also how ties in reports are broken):
//! 1. the implicit per-environment nodes `k8s-cluster.default#k8s-cluster`
//!    and `k8s-namespace.default#k8s-namespace` (when the set has
//!    workloads, or when a definition references them);
//! 2. the set's `shared` section, `shared.<name>`;
//! 3. per workload (by name): the workload `workload.default#modules.<w>`,
//!    then its Score resources: private ones
//!    `modules.<w>.externals.<name>`, shared ones (`id: x`) `shared.x`, one
//!    node however many workloads use it (type, class and non-empty params
//!    must agree). `environment` resources resolve from shared values and
//!    are not nodes.
//! 4. dependencies found in matched definitions' `${resources…}`
//!    placeholders (see [`crate::placeholders`] for which node a reference
//!    names), matched in turn.
//!
//! Edges ("depends on"): a workload on its resources and on the implicit
//! nodes; a resource on the resources its definition references; a Score
//! resource on the resources of the same workload its `params` reference
//! (`${resources.<name>…}`). Cycles are refused with the cycle spelled out.

use crate::hash::FxHashMap as HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use podium_score::placeholder::{Token, tokenize};

use crate::ids::{self, DEFAULT_CLASS, ResourceKey};
use crate::matching::{Definitions, MatchError};
use crate::model::set::DeploymentSet;
use crate::model::types;
use crate::model::workload::{ResourceRequest, resources_of};
use crate::model::{EnvContext, ResourceDefinition};
use crate::placeholders::{Reference, ReferenceError, ResourceRef, definition_references};

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// Why a node exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// An implicit per-environment resource.
    Implicit,
    /// A workload of the set.
    Workload { name: String },
    /// A workload's private resource.
    Private { workload: String, name: String },
    /// A shared resource (set `shared` section or Score `id:`).
    Shared { name: String },
    /// Added because a definition references it.
    Dependency { needed_by: ResourceKey },
}

/// One resource of the deployment, with its matched definition.
#[derive(Debug, Clone)]
pub struct Node {
    pub key: ResourceKey,
    pub guresid: String,
    pub kind: NodeKind,
    /// Score resource params (`{}` when none); for a workload node, the
    /// whole workload (shared with the set, not copied).
    pub params: Arc<Value>,
    pub definition: Arc<ResourceDefinition>,
    /// Index of the winning criterion in the definition.
    pub criterion: usize,
    /// What this node depends on, sorted.
    pub deps: Vec<NodeId>,
    /// 0 for nodes without dependencies, else 1 + the deepest dependency.
    pub level: usize,
}

/// Errors building the graph.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    #[error("module {module:?}: {reason}")]
    InvalidWorkload { module: String, reason: String },
    #[error("shared resource {name:?}: {field} differs between {first} and {second}")]
    SharedConflict {
        name: String,
        field: &'static str,
        first: String,
        second: String,
    },
    #[error(
        "{at}: ${{{raw}}} names resource {name:?}, which workload {workload:?} does not declare"
    )]
    UnknownScoreResource {
        workload: String,
        at: String,
        raw: String,
        name: String,
    },
    #[error("{at}: {message}")]
    ScorePlaceholder { at: String, message: String },
    /// No definition matches a node; `needed_by` names the node whose
    /// definition referenced it, for dependency nodes.
    #[error("{source}{}", needed_by.as_ref().map(|k| format!(" (needed by {k})")).unwrap_or_default())]
    Match {
        needed_by: Option<ResourceKey>,
        #[source]
        source: Box<MatchError>,
    },
    #[error("definition {definition:?}: {source}")]
    Reference {
        definition: String,
        #[source]
        source: ReferenceError,
    },
    #[error("dependency cycle: {}", cycle.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        /// The cycle, first node repeated at the end.
        cycle: Vec<ResourceKey>,
    },
}

/// What the graph needs from a definition's placeholders, computed once per
/// definition.
#[derive(Debug, Clone, Default)]
pub struct DefinitionRefs {
    pub resources: Vec<ResourceRef>,
    /// `${values.KEY}` keys, sorted, unique.
    pub values: Vec<String>,
}

/// The resource graph of one app/env.
#[derive(Debug, Clone)]
pub struct Graph {
    env: EnvContext,
    nodes: Vec<Node>,
    index: KeyIndex,
    order: Vec<NodeId>,
    levels: Vec<Vec<NodeId>>,
    refs: HashMap<String, Arc<DefinitionRefs>>,
}

impl Graph {
    /// Builds and matches the graph of `set` in `env`.
    pub fn build(
        set: &DeploymentSet,
        env: &EnvContext,
        definitions: &Definitions,
    ) -> Result<Graph, GraphError> {
        let mut b = Builder {
            env,
            definitions,
            nodes: Vec::new(),
            index: KeyIndex::default(),
            empty: empty(),
            shared: HashMap::default(),
            refs: HashMap::default(),
        };
        // Implicit nodes exist for the workloads; a set without workloads
        // gets them only if a definition references them.
        let implicit = types::implicit_types()
            .filter(|_| !set.modules().is_empty())
            .map(|t| {
                b.node(
                    ResourceKey::new(t.name, DEFAULT_CLASS, t.name),
                    NodeKind::Implicit,
                    empty(),
                )
            })
            .collect::<Result<Vec<NodeId>, _>>()?;
        for (name, res) in set.shared() {
            let req =
                ResourceRequest::deserialize(res).map_err(|e| GraphError::InvalidWorkload {
                    module: format!("shared.{name}"),
                    reason: e.to_string(),
                })?;
            let params = res.get("params").filter(|p| !p.is_null());
            b.shared(
                name,
                &req.res_type,
                req.class(),
                params,
                format!("shared.{name}"),
            )?;
        }
        for (wname, workload) in set.modules() {
            b.workload(wname, workload, &implicit)?;
        }
        b.add_dependencies()?;
        let (order, levels) = topo(&mut b.nodes)?;
        Ok(Graph {
            env: env.clone(),
            nodes: b.nodes,
            index: b.index,
            order,
            levels,
            refs: b.refs,
        })
    }

    pub fn env(&self) -> &EnvContext {
        &self.env
    }
    /// All nodes, in creation order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }
    pub fn get(&self, key: &ResourceKey) -> Option<&Node> {
        self.index
            .get(&self.nodes, key)
            .and_then(|id| self.nodes.get(id))
    }
    pub fn id_of(&self, key: &ResourceKey) -> Option<NodeId> {
        self.index.get(&self.nodes, key)
    }
    /// A topological order: by level, then by key.
    pub fn order(&self) -> &[NodeId] {
        &self.order
    }
    /// Nodes per level; all nodes of one level can run in parallel once the
    /// previous levels are done.
    pub fn levels(&self) -> &[Vec<NodeId>] {
        &self.levels
    }
    /// The placeholder summary of a matched definition.
    pub fn definition_refs(&self, definition_id: &str) -> Option<&DefinitionRefs> {
        self.refs.get(definition_id).map(|r| &**r)
    }
}

fn empty() -> Arc<Value> {
    Arc::new(Value::Object(Map::new()))
}

struct SharedEntry {
    id: NodeId,
    origin: String,
    class: String,
    has_params: bool,
}

struct Builder<'a> {
    env: &'a EnvContext,
    definitions: &'a Definitions,
    nodes: Vec<Node>,
    index: KeyIndex,
    shared: HashMap<String, SharedEntry>,
    refs: HashMap<String, Arc<DefinitionRefs>>,
    /// One shared `{}` for every node without params.
    empty: Arc<Value>,
}

/// Node lookup by key without storing the keys a second time (a plan has
/// one node per resource; halving its allocations measurably speeds up
/// large graphs): a map from the key's hash to the node, plus the
/// practically-never-used list of nodes whose 64-bit hash collided.
#[derive(Debug, Clone, Default)]
struct KeyIndex {
    by_hash: HashMap<u64, NodeId>,
    collided: Vec<(u64, NodeId)>,
}

impl KeyIndex {
    fn hash(key: &ResourceKey) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = crate::hash::FxHasher::default();
        key.hash(&mut h);
        h.finish()
    }

    fn get(&self, nodes: &[Node], key: &ResourceKey) -> Option<NodeId> {
        let h = Self::hash(key);
        let first = self.by_hash.get(&h)?;
        std::iter::once(*first)
            .chain(
                self.collided
                    .iter()
                    .filter(|(c, _)| *c == h)
                    .map(|(_, id)| *id),
            )
            .find(|&id| nodes.get(id).is_some_and(|n| n.key == *key))
    }

    /// Adds `id` for `key`, which must not be present yet.
    fn insert(&mut self, key: &ResourceKey, id: NodeId) {
        let h = Self::hash(key);
        match self.by_hash.entry(h) {
            std::collections::hash_map::Entry::Occupied(_) => self.collided.push((h, id)),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(id);
            }
        }
    }
}

impl Builder<'_> {
    /// The node for `key`, created (and matched) with `kind` and `params`
    /// if new.
    fn node(
        &mut self,
        key: ResourceKey,
        kind: NodeKind,
        params: Arc<Value>,
    ) -> Result<NodeId, GraphError> {
        if let Some(id) = self.index.get(&self.nodes, &key) {
            return Ok(id);
        }
        let m = self
            .definitions
            .match_resource(self.env, &key)
            .map_err(|source| GraphError::Match {
                needed_by: match &kind {
                    NodeKind::Dependency { needed_by } => Some(needed_by.clone()),
                    _ => None,
                },
                source: Box::new(source),
            })?;
        let definition = Arc::clone(m.definition);
        if !self.refs.contains_key(&definition.id) {
            let r = summarize(&definition).map_err(|source| GraphError::Reference {
                definition: definition.id.clone(),
                source,
            })?;
            self.refs.insert(definition.id.clone(), Arc::new(r));
        }
        let id = self.nodes.len();
        let guresid = ids::guresid(&self.env.app_id, &self.env.env_id, &key);
        self.index.insert(&key, id);
        self.nodes.push(Node {
            key,
            guresid,
            kind,
            params,
            definition,
            criterion: m.criterion,
            deps: Vec::new(),
            level: 0,
        });
        Ok(id)
    }

    fn shared(
        &mut self,
        name: &str,
        res_type: &str,
        class: &str,
        params: Option<&Value>,
        origin: String,
    ) -> Result<NodeId, GraphError> {
        let params = params.filter(|p| !is_empty(p));
        if let Some(entry) = self.shared.get_mut(name) {
            let node = &mut self.nodes[entry.id];
            let conflict = |field| GraphError::SharedConflict {
                name: name.to_owned(),
                field,
                first: entry.origin.clone(),
                second: origin.clone(),
            };
            if node.key.res_type != res_type {
                return Err(conflict("type"));
            }
            if entry.class != class {
                return Err(conflict("class"));
            }
            if let Some(p) = params {
                if entry.has_params && *node.params != *p {
                    return Err(conflict("params"));
                }
                node.params = Arc::new(p.clone());
                entry.has_params = true;
            }
            return Ok(entry.id);
        }
        let key = ResourceKey::new(res_type, class, ids::shared_res_id(name));
        let id = self.node(
            key,
            NodeKind::Shared {
                name: name.to_owned(),
            },
            params.map_or_else(|| Arc::clone(&self.empty), |p| Arc::new(p.clone())),
        )?;
        self.shared.insert(
            name.to_owned(),
            SharedEntry {
                id,
                origin,
                class: class.to_owned(),
                has_params: params.is_some(),
            },
        );
        Ok(id)
    }

    fn workload(
        &mut self,
        wname: &str,
        workload: &Arc<Value>,
        implicit: &[NodeId],
    ) -> Result<(), GraphError> {
        let resources = resources_of(workload).map_err(|e| GraphError::InvalidWorkload {
            module: wname.to_owned(),
            reason: e.to_string(),
        })?;
        let wid = self.node(
            ResourceKey::new(
                types::WORKLOAD.name,
                DEFAULT_CLASS,
                ids::workload_res_id(wname),
            ),
            NodeKind::Workload {
                name: wname.to_owned(),
            },
            Arc::clone(workload),
        )?;
        self.nodes[wid].deps.extend_from_slice(implicit);
        let mut local: HashMap<&str, NodeId> = HashMap::default();
        for r in &resources {
            if !types::is_provisioned(r.res_type) {
                continue;
            }
            let id = match r.id {
                Some(shared) => self.shared(
                    shared,
                    r.res_type,
                    r.class,
                    r.params,
                    format!("modules.{wname}.resources.{}", r.name),
                )?,
                None => self.node(
                    ResourceKey::new(r.res_type, r.class, ids::private_res_id(wname, r.name)),
                    NodeKind::Private {
                        workload: wname.to_owned(),
                        name: r.name.to_owned(),
                    },
                    r.params
                        .map_or_else(|| Arc::clone(&self.empty), |p| Arc::new(p.clone())),
                )?,
            };
            self.nodes[wid].deps.push(id);
            local.insert(r.name, id);
        }
        // Score params may use other resources' outputs: those come first.
        for r in &resources {
            let (Some(&id), Some(params)) = (local.get(r.name), r.params) else {
                continue;
            };
            let at = format!("modules.{wname}.resources.{}.params", r.name);
            let mut targets = Vec::new();
            score_resource_refs(params, &at, &mut |at, raw, name| {
                match local.get(name) {
                    Some(&t) => targets.push(t),
                    None if resources.iter().any(|u| u.name == name) => {}
                    None => {
                        return Err(GraphError::UnknownScoreResource {
                            workload: wname.to_owned(),
                            at: at.to_owned(),
                            raw: raw.to_owned(),
                            name: name.to_owned(),
                        });
                    }
                }
                Ok(())
            })?;
            self.nodes[id].deps.extend(targets);
        }
        Ok(())
    }

    /// Adds the dependencies each node's definition references; new nodes
    /// are appended, so the loop reaches (and expands) them too.
    fn add_dependencies(&mut self) -> Result<(), GraphError> {
        let mut i = 0;
        while i < self.nodes.len() {
            let key = self.nodes[i].key.clone();
            let refs = self
                .refs
                .get(&self.nodes[i].definition.id)
                .cloned()
                .unwrap_or_default();
            for r in &refs.resources {
                let target = r.target(&key);
                let t = match self.index.get(&self.nodes, &target) {
                    Some(t) => t,
                    None => {
                        let params = Arc::clone(&self.empty);
                        let kind = NodeKind::Dependency {
                            needed_by: key.clone(),
                        };
                        self.node(target, kind, params)?
                    }
                };
                self.nodes[i].deps.push(t);
            }
            i += 1;
        }
        Ok(())
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// The resource references and value keys of a definition.
pub fn summarize(def: &ResourceDefinition) -> Result<DefinitionRefs, ReferenceError> {
    let mut out = DefinitionRefs::default();
    for located in definition_references(def)? {
        match located.reference {
            Reference::Resource(r) => {
                if !out.resources.contains(&r) {
                    out.resources.push(r);
                }
            }
            Reference::Value(k) => out.values.push(k),
            Reference::Context(_) => {}
        }
    }
    out.values.sort();
    out.values.dedup();
    Ok(out)
}

/// Calls `f(at, raw, name)` for every Score `${resources.<name>…}` in `v`.
fn score_resource_refs(
    v: &Value,
    at: &str,
    f: &mut impl FnMut(&str, &str, &str) -> Result<(), GraphError>,
) -> Result<(), GraphError> {
    match v {
        Value::String(s) => {
            let tokens = tokenize(s).map_err(|e| GraphError::ScorePlaceholder {
                at: at.to_owned(),
                message: e.to_string(),
            })?;
            for t in tokens {
                if let Token::Placeholder { path, raw, .. } = t
                    && path.first().is_some_and(|p| p == "resources")
                    && let Some(name) = path.get(1)
                {
                    f(at, &raw, name)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| score_resource_refs(x, &format!("{at}[{i}]"), f)),
        Value::Object(m) => m
            .iter()
            .try_for_each(|(k, x)| score_resource_refs(x, &format!("{at}.{k}"), f)),
        _ => Ok(()),
    }
}

/// Levels and a topological order (Kahn), or the first cycle found.
fn topo(nodes: &mut [Node]) -> Result<(Vec<NodeId>, Vec<Vec<NodeId>>), GraphError> {
    let n = nodes.len();
    let mut dependents: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    let mut waiting = vec![0usize; n];
    for (id, node) in nodes.iter_mut().enumerate() {
        node.deps.sort_unstable();
        node.deps.dedup();
        waiting[id] = node.deps.len();
        for &d in &node.deps {
            dependents[d].push(id);
        }
    }
    let mut ready: Vec<NodeId> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut levels = Vec::new();
    let mut done = 0;
    while !ready.is_empty() {
        let mut next = Vec::new();
        for &id in &ready {
            for &dep in &dependents[id] {
                waiting[dep] -= 1;
                if waiting[dep] == 0 {
                    nodes[dep].level = levels.len() + 1;
                    next.push(dep);
                }
            }
        }
        done += ready.len();
        ready.sort_by(|&a, &b| nodes[a].key.cmp(&nodes[b].key));
        levels.push(std::mem::replace(&mut ready, next));
    }
    if done < n {
        return Err(GraphError::Cycle {
            cycle: find_cycle(nodes, &waiting),
        });
    }
    let order = levels.iter().flatten().copied().collect();
    Ok((order, levels))
}

/// Every node still `waiting` has a waiting dependency, so following the
/// lowest-numbered one from the lowest-numbered waiting node must revisit a
/// node: that loop is a cycle. Reported from its earliest-created node.
fn find_cycle(nodes: &[Node], waiting: &[usize]) -> Vec<ResourceKey> {
    let Some(start) = (0..nodes.len()).find(|&i| waiting[i] > 0) else {
        return Vec::new();
    };
    let mut seen_at: HashMap<NodeId, usize> = HashMap::default();
    let mut path = Vec::new();
    let mut at = start;
    while !seen_at.contains_key(&at) {
        seen_at.insert(at, path.len());
        path.push(at);
        match nodes[at].deps.iter().copied().find(|&d| waiting[d] > 0) {
            Some(d) => at = d,
            None => break,
        }
    }
    let from = seen_at.get(&at).copied().unwrap_or(0);
    let mut cycle: Vec<NodeId> = path[from..].to_vec();
    if let Some(min_pos) = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, id)| **id)
        .map(|(p, _)| p)
    {
        cycle.rotate_left(min_pos);
    }
    if let Some(&first) = cycle.first() {
        cycle.push(first);
    }
    cycle.into_iter().map(|id| nodes[id].key.clone()).collect()
}
