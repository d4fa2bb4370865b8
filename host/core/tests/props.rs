//! Property tests (bounded case counts so the suite stays fast).
//!
//! - For random resource graphs (random types, references between types,
//!   workloads using them): if no cycle is reachable the plan puts every
//!   step after its dependencies and deletes after everything else; if one
//!   is, a cycle is reported and it is a real one.
//! - Matching agrees with a brute-force reading of the rule.
//! - `diff(a, b).apply(a) == b` for random sets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use podium_core::model::definition::{DefinitionSpec, DriverInputs};
use podium_core::{
    Action, Criterion, Definitions, DeploymentSet, EnvContext, Graph, GraphError,
    ResourceDefinition, ResourceKey, ValueMap, diff, plan,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn def(
    id: &str,
    res_type: &str,
    values: serde_json::Map<String, Value>,
    criteria: Vec<Criterion>,
) -> ResourceDefinition {
    ResourceDefinition::new(
        id,
        1,
        DefinitionSpec {
            res_type: res_type.into(),
            driver_type: "podium/echo".into(),
            driver_inputs: DriverInputs {
                values,
                secrets: Default::default(),
            },
            grants: vec![],
            criteria,
        },
    )
}

/// One catch-all definition per type `t<i>`, referencing the types in
/// `refs[i]` (same res_id), plus the workload and implicit types.
fn registry(refs: &[BTreeSet<usize>]) -> Definitions {
    let mut defs = Definitions::new();
    for t in ["workload", "k8s-cluster", "k8s-namespace"] {
        defs.add(def(t, t, Default::default(), vec![Criterion::default()]))
            .unwrap();
    }
    for (i, targets) in refs.iter().enumerate() {
        let values = targets
            .iter()
            .map(|j| {
                (
                    format!("r{j}"),
                    json!(format!("${{resources.t{j}.outputs.x}}")),
                )
            })
            .collect();
        defs.add(def(
            &format!("d{i}"),
            &format!("t{i}"),
            values,
            vec![Criterion::default()],
        ))
        .unwrap();
    }
    defs
}

/// Workloads: each a list of (type index, shared?) resources; `None` skips
/// a workload but keeps the names of the others.
fn set_of(workloads: &[Option<Vec<(usize, bool)>>]) -> DeploymentSet {
    let modules = workloads
        .iter()
        .enumerate()
        .filter_map(|(w, r)| r.as_ref().map(|r| (w, r)))
        .map(|(w, resources)| {
            let res: serde_json::Map<String, Value> = resources
                .iter()
                .enumerate()
                .map(|(r, (t, shared))| {
                    let mut v = json!({"type": format!("t{t}")});
                    if *shared {
                        // The id includes the type so shared use never conflicts.
                        v["id"] = json!(format!("s{t}"));
                    }
                    (format!("r{r}"), v)
                })
                .collect();
            (
                format!("w{w}"),
                json!({"metadata": {"name": format!("w{w}")}, "containers": {}, "resources": res}),
            )
        })
        .collect();
    DeploymentSet::new(modules, BTreeMap::new()).unwrap()
}

/// Whether a cycle of the type graph is reachable from `starts`.
fn cycle_reachable(refs: &[BTreeSet<usize>], starts: &BTreeSet<usize>) -> bool {
    // 0 = unvisited, 1 = on stack, 2 = done
    fn dfs(v: usize, refs: &[BTreeSet<usize>], state: &mut [u8]) -> bool {
        state[v] = 1;
        for &w in &refs[v] {
            if state[w] == 1 || (state[w] == 0 && dfs(w, refs, state)) {
                return true;
            }
        }
        state[v] = 2;
        false
    }
    let mut state = vec![0u8; refs.len()];
    starts
        .iter()
        .any(|&s| state[s] == 0 && dfs(s, refs, &mut state))
}

/// Per type, the types its definition references.
type TypeRefs = Vec<BTreeSet<usize>>;
/// Per workload, its resources as (type, shared?).
type Workloads = Vec<Vec<(usize, bool)>>;

fn graph_case(dag: bool) -> impl Strategy<Value = (TypeRefs, Workloads)> {
    (2usize..8).prop_flat_map(move |n| {
        let refs = proptest::collection::vec(proptest::collection::btree_set(0..n, 0..3), n)
            .prop_map(move |mut refs| {
                if dag {
                    for (i, r) in refs.iter_mut().enumerate() {
                        r.retain(|&j| j > i);
                    }
                }
                refs
            });
        let workloads =
            proptest::collection::vec(proptest::collection::vec((0..n, any::<bool>()), 0..4), 1..5);
        (refs, workloads)
    })
}

fn env() -> EnvContext {
    EnvContext::new("app", "env", "development")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn steps_come_after_their_dependencies(
        (refs, before) in graph_case(true),
        after_seed in proptest::collection::vec(any::<bool>(), 0..5),
    ) {
        let defs = registry(&refs);
        let values = ValueMap::new();
        let set_a = set_of(&before.iter().cloned().map(Some).collect::<Vec<_>>());
        let a = plan(&set_a, &env(), &defs, &values, &[]).unwrap();
        // Drop some workloads to get deletes too.
        let kept: Vec<Option<Vec<(usize, bool)>>> = before
            .iter()
            .enumerate()
            .map(|(i, w)| after_seed.get(i).copied().unwrap_or(true).then(|| w.clone()))
            .collect();
        let active = a.applied();
        let b = plan(&set_of(&kept), &env(), &defs, &values, &active).unwrap();
        for p in [&a, &b] {
            let mut seen_delete = false;
            for (i, s) in p.steps.iter().enumerate() {
                prop_assert!(s.depends_on.iter().all(|&d| d < i), "step {} ({}) before a dependency", i, s.key);
                if s.action == Action::Delete {
                    seen_delete = true;
                } else {
                    prop_assert!(!seen_delete, "{} after a delete", s.key);
                }
            }
        }
        // Deletes are exactly what left, each after its leaving dependents.
        let now: BTreeSet<&str> = b.steps.iter().filter(|s| s.action != Action::Delete).map(|s| s.guresid.as_str()).collect();
        let left: BTreeSet<&str> = active.iter().map(|a| a.guresid.as_str()).filter(|g| !now.contains(g)).collect();
        let deleted: BTreeSet<&str> = b.steps.iter().filter(|s| s.action == Action::Delete).map(|s| s.guresid.as_str()).collect();
        prop_assert_eq!(&left, &deleted);
        let pos: BTreeMap<&str, usize> = b.steps.iter().enumerate().map(|(i, s)| (s.guresid.as_str(), i)).collect();
        for r in active.iter().filter(|r| left.contains(r.guresid.as_str())) {
            for dep in r.depends_on.iter().filter(|d| left.contains(d.as_str())) {
                prop_assert!(pos[r.guresid.as_str()] < pos[dep.as_str()], "{} deleted after its dependency", r.key);
            }
        }
        // Nothing changed for what stayed.
        prop_assert!(b.steps.iter().all(|s| s.action == Action::Unchanged || s.action == Action::Delete));
    }

    #[test]
    fn a_cycle_is_always_reported((refs, workloads) in graph_case(false)) {
        let defs = registry(&refs);
        let set = set_of(&workloads.iter().cloned().map(Some).collect::<Vec<_>>());
        let used: BTreeSet<usize> = workloads.iter().flatten().map(|(t, _)| *t).collect();
        match Graph::build(&set, &env(), &defs) {
            Ok(g) => {
                prop_assert!(!cycle_reachable(&refs, &used));
                for (id, n) in g.nodes().iter().enumerate() {
                    for &d in &n.deps {
                        prop_assert!(g.node(d).unwrap().level < n.level, "{} / {}", id, d);
                    }
                }
            }
            Err(GraphError::Cycle { cycle }) => {
                prop_assert!(cycle_reachable(&refs, &used));
                prop_assert!(cycle.len() >= 2);
                prop_assert_eq!(cycle.first(), cycle.last());
                for pair in cycle.windows(2) {
                    let from: usize = pair[0].res_type[1..].parse().unwrap();
                    let to: usize = pair[1].res_type[1..].parse().unwrap();
                    prop_assert!(refs[from].contains(&to), "{} -> {} is not an edge", pair[0], pair[1]);
                    prop_assert_eq!(&pair[0].res_id, &pair[1].res_id);
                }
            }
            Err(e) => prop_assert!(false, "unexpected error: {}", e),
        }
    }
}

fn opt(values: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    proptest::option::of(proptest::sample::select(values).prop_map(str::to_owned))
}

fn criterion() -> impl Strategy<Value = Criterion> {
    (
        opt(&["development", "production"]),
        opt(&["shop", "blog"]),
        opt(&["dev", "qa"]),
        opt(&["shared.db", "shared.x"]),
        opt(&["default", "large"]),
    )
        .prop_map(|(env_type, app_id, env_id, res_id, class)| Criterion {
            env_type,
            app_id,
            env_id,
            res_id,
            class,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matching_agrees_with_the_rule(
        defs in proptest::collection::vec(proptest::collection::vec(criterion(), 0..4), 1..12),
        ctx in (criterion(), any::<bool>()),
    ) {
        let mut registry = Definitions::new();
        let mut accepted = Vec::new();
        for (i, criteria) in defs.into_iter().enumerate() {
            let d = def(&format!("d{i}"), "postgres", Default::default(), criteria);
            if registry.add(d.clone()).is_ok() {
                accepted.push(d);
            }
        }
        // A context: every field filled (criterion fields or a default).
        let (c, _) = ctx;
        let env = EnvContext::new(
            c.app_id.unwrap_or_else(|| "shop".into()),
            c.env_id.unwrap_or_else(|| "dev".into()),
            c.env_type.unwrap_or_else(|| "development".into()),
        );
        let key = ResourceKey::new("postgres", c.class.unwrap_or_else(|| "default".into()), c.res_id.unwrap_or_else(|| "shared.db".into()));
        // Brute force: all matching criteria, the most specific must be unique.
        let matches = |cr: &Criterion| {
            cr.class() == key.class
                && cr.env_type.as_ref().is_none_or(|v| *v == env.env_type)
                && cr.app_id.as_ref().is_none_or(|v| *v == env.app_id)
                && cr.env_id.as_ref().is_none_or(|v| *v == env.env_id)
                && cr.res_id.as_ref().is_none_or(|v| *v == key.res_id)
        };
        let mut best: Option<(podium_core::model::definition::Specificity, Vec<&str>)> = None;
        for d in &accepted {
            for cr in d.spec.criteria.iter().filter(|cr| matches(cr)) {
                let s = cr.specificity();
                match &mut best {
                    Some((b, ids)) if *b == s => { if !ids.contains(&d.id.as_str()) { ids.push(&d.id) } }
                    Some((b, _)) if *b > s => {}
                    _ => best = Some((s, vec![&d.id])),
                }
            }
        }
        let got = registry.match_resource(&env, &key).ok().map(|m| m.definition.id.clone());
        match best {
            None => prop_assert_eq!(got, None),
            Some((_, ids)) => {
                prop_assert_eq!(ids.len(), 1, "accepted definitions tie: {:?}", ids);
                prop_assert_eq!(got.as_deref(), Some(ids[0]));
            }
        }
        prop_assert_eq!(registry.explain(&env, &key).winner, registry.match_resource(&env, &key).ok().map(|m| m.definition.id.clone()));
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0i64..5).prop_map(|n| json!(n)),
        "[a-c]{0,2}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn random_set() -> impl Strategy<Value = DeploymentSet> {
    (
        proptest::collection::btree_map("[w-z]", json_value(), 0..4),
        proptest::collection::btree_map("[p-r]", json_value(), 0..3),
    )
        .prop_map(|(modules, shared)| {
            let modules = modules
                .into_iter()
                .map(|(name, extra)| {
                    (
                        name.clone(),
                        json!({"metadata": {"name": name}, "containers": {}, "extra": extra}),
                    )
                })
                .collect();
            let shared = shared
                .into_iter()
                .map(|(n, params)| (n, json!({"type": "dns", "params": params})))
                .collect();
            DeploymentSet::new(modules, shared).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn diff_then_apply_gives_the_target(a in random_set(), b in random_set()) {
        let d = diff(&a, &b);
        let got = d.apply(&a).unwrap();
        prop_assert_eq!(got.id(), b.id());
        prop_assert_eq!(&got, &b);
        prop_assert_eq!(d.is_empty(), a.id() == b.id());
        // Through the wire form too.
        let wire: podium_core::Delta = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        let again = wire.apply(&a).unwrap();
        prop_assert_eq!(again.id(), b.id());
    }
}
