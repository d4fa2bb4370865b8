//! Property ("fuzz") tests of definition-side placeholders and of deltas,
//! with bounded case counts so `cargo test` stays fast.
//!
//! - `parse_reference` never panics; what it accepts is well formed; a
//!   reference written from parts parses back to those parts.
//! - `Resolver` agrees with an independent table of what each placeholder
//!   means (value, secrecy, or failure), keeps JSON types for a string that
//!   is exactly one placeholder, and refuses secrets outside `secrets`.
//! - `diff(a, b).apply(a) == b` for generated sets with awkward keys (JSON
//!   pointer escapes, array edits), through the wire form too; an empty
//!   delta is the identity; arbitrary deltas and arbitrary JSON never panic
//!   and what applies is a valid set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use podium_core::model::definition::{DefinitionSpec, DriverInputs};
use podium_core::placeholders::{Reference, ResourceRef, parse_reference};
use podium_core::{
    Delta, DeploymentSet, EnvContext, Outputs, ResolveError, Resolver, ResourceDefinition,
    ResourceKey, SharedValue, ValueMap, diff,
};
use podium_score::placeholder::{Token, tokenize};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};

/// `cases` per property, times `PODIUM_FUZZ_SCALE` (default 1) for longer
/// local runs.
fn config(cases: u32) -> ProptestConfig {
    let scale = std::env::var("PODIUM_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    ProptestConfig {
        cases: cases.saturating_mul(scale),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// parse_reference

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "context", "values", "resources", "outputs", "app", "env", "res", "deploy", "id",
            "type", "class", "guresid", "dns", "postgres", "edge", "#", "#x", "dns#", "dns#x",
            "a#b#c", "shared", "db", "k8s-cluster", "", ".", "dns.", ".x", "a.b", "0", "-",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,4}",
    ]
}

/// Placeholder paths: a known or odd head, selector-ish segments, often an
/// `outputs` segment, then output keys.
fn reference_path() -> impl Strategy<Value = Vec<String>> {
    let head = prop_oneof![
        3 => Just("resources".to_owned()),
        1 => Just("context".to_owned()),
        1 => Just("values".to_owned()),
        1 => path_segment(),
    ];
    (
        head,
        proptest::collection::vec(path_segment(), 0..4),
        any::<bool>(),
        proptest::collection::vec(path_segment(), 0..3),
    )
        .prop_map(|(head, mid, outputs, tail)| {
            let mut path = vec![head];
            path.extend(mid);
            if outputs {
                path.push("outputs".to_owned());
            }
            path.extend(tail);
            path
        })
}

/// Written form of a reference's parts, with `.` escaped inside a segment.
fn escape(segment: &str) -> String {
    segment.replace('.', "\\.")
}

/// The one placeholder of `${raw}`.
fn parse_placeholder(raw: &str) -> Result<Reference, String> {
    match tokenize(&format!("${{{raw}}}"))
        .map_err(|e| e.to_string())?
        .as_slice()
    {
        [Token::Placeholder { path, .. }] => parse_reference(path),
        other => Err(format!("not one placeholder: {other:?}")),
    }
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_-]{0,6}"
}

/// Output keys and JSON paths: anything but `}` and `\`, dots included
/// (escaped when written), `outputs` too.
fn output_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => ident(),
        1 => proptest::sample::select(vec!["outputs", "a.b", "0", "#", "$", "\u{e9}", "k8s-cluster"])
            .prop_map(str::to_owned),
    ]
}

/// A resource reference from parts. A res_id runs up to the first
/// `outputs` segment (documented), so none of its segments is `outputs`.
fn resource_ref() -> impl Strategy<Value = ResourceRef> {
    (
        prop_oneof![
            3 => ident(),
            1 => proptest::sample::select(vec!["k8s-cluster", "k8s-namespace", "dns"]).prop_map(str::to_owned),
        ],
        proptest::option::of(ident()),
        proptest::option::of(
            proptest::collection::vec(
                prop_oneof![ident(), Just("#".to_owned()), Just("a#b".to_owned())],
                1..4,
            )
            .prop_map(|segs| segs.join(".")),
        ),
        proptest::collection::vec(output_segment(), 1..4),
    )
        .prop_map(|(res_type, class, res_id, output)| ResourceRef {
            res_type,
            class,
            res_id,
            output,
        })
}

fn write_ref(r: &ResourceRef) -> String {
    let mut s = format!("resources.{}", r.res_type);
    if let Some(c) = &r.class {
        s.push('.');
        s.push_str(c);
    }
    if let Some(id) = &r.res_id {
        // The res_id's dots need no escaping.
        s.push('#');
        s.push_str(id);
    }
    s.push_str(".outputs");
    for seg in &r.output {
        s.push('.');
        s.push_str(&escape(seg));
    }
    s
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn parse_reference_accepts_only_well_formed_references(path in reference_path()) {
        match parse_reference(&path) {
            Ok(Reference::Resource(r)) => {
                prop_assert_eq!(path[0].as_str(), "resources");
                let bad = |s: &str| s.is_empty() || s.contains(['.', '#']);
                prop_assert!(!bad(&r.res_type), "type {:?} from {:?}", r.res_type, path);
                prop_assert!(r.class.as_deref().is_none_or(|c| !bad(c)), "class {:?} from {:?}", r.class, path);
                prop_assert!(r.res_id.as_deref().is_none_or(|id| !id.is_empty()));
                prop_assert!(!r.output.is_empty());
            }
            Ok(Reference::Value(k)) => {
                prop_assert_eq!(path.len(), 2);
                prop_assert_eq!(&path[1], &k);
            }
            Ok(Reference::Context(_)) => prop_assert_eq!(path.len(), 3),
            Err(message) => prop_assert!(message.contains("expected")),
        }
    }

    #[test]
    fn written_resource_references_parse_back(r in resource_ref()) {
        let raw = write_ref(&r);
        prop_assert_eq!(parse_placeholder(&raw), Ok(Reference::Resource(r.clone())), "{}", raw);
        let referrer = ResourceKey::new("postgres", "default", "shared.db");
        let target = r.target(&referrer);
        prop_assert_eq!(&target.res_type, &r.res_type);
        prop_assert_eq!(target.class.as_str(), r.class.as_deref().unwrap_or("default"));
        let implicit = matches!(r.res_type.as_str(), "k8s-cluster" | "k8s-namespace");
        let want_id = match (&r.res_id, implicit) {
            (Some(id), _) => id.clone(),
            (None, true) => r.res_type.clone(),
            (None, false) => referrer.res_id.clone(),
        };
        prop_assert_eq!(target.res_id, want_id);
    }

    #[test]
    fn written_value_references_parse_back(key in "[A-Za-z_][A-Za-z0-9_.-]{0,10}") {
        let raw = format!("values.{}", escape(&key));
        prop_assert_eq!(parse_placeholder(&raw), Ok(Reference::Value(key)));
    }
}

// ---------------------------------------------------------------------------
// Resolution against an independent table

/// What each placeholder of the vocabulary must resolve to: the value and
/// whether it is secret, or `None` when resolution must fail.
fn table(raw: &str) -> Option<(Value, bool)> {
    Some(match raw {
        "context.app.id" => (json!("shop"), false),
        "context.env.id" => (json!("dev"), false),
        "context.env.type" => (json!("development"), false),
        "context.res.id" => (json!("shared.db"), false),
        "context.res.type" => (json!("postgres"), false),
        "context.res.class" => (json!("default"), false),
        "context.res.guresid" => (json!("g123"), false),
        "context.deploy.id" => (json!("d456"), false),
        "values.PUBLIC" => (json!("pub-value"), false),
        "values.SECRET" => (json!("s3cr3t-value"), true),
        r"values.dotted\.key" => (json!("dotted"), false),
        "resources.dns.outputs.host" => (json!("db.example.org"), false),
        "resources.dns.outputs.port" => (json!(5432), false),
        "resources.dns.outputs.obj" => (json!({"k": [1, "two"]}), false),
        "resources.dns.outputs.obj.k.1" => (json!("two"), false),
        "resources.dns.outputs.pw" => (json!("dns-password"), true),
        "resources.dns.outputs.pwobj.inner" => (json!("inner-secret"), true),
        "resources.k8s-cluster.outputs.url" => (json!("https://k8s"), false),
        "resources.s3.edge#bucket.x.outputs.name" => (json!("bkt"), false),
        _ => return None,
    })
}

const VOCABULARY: &[&str] = &[
    "context.app.id",
    "context.env.id",
    "context.env.type",
    "context.res.id",
    "context.res.type",
    "context.res.class",
    "context.res.guresid",
    "context.deploy.id",
    "values.PUBLIC",
    "values.SECRET",
    r"values.dotted\.key",
    "resources.dns.outputs.host",
    "resources.dns.outputs.port",
    "resources.dns.outputs.obj",
    "resources.dns.outputs.obj.k.1",
    "resources.dns.outputs.pw",
    "resources.dns.outputs.pwobj.inner",
    "resources.k8s-cluster.outputs.url",
    "resources.s3.edge#bucket.x.outputs.name",
    // Failures of every kind.
    "values.MISSING",
    "values.A.B",
    "context.app",
    "resources.dns.outputs.nope",
    "resources.dns.outputs.obj.k.7",
    "resources.dns.outputs.host.deeper",
    "resources.redis.outputs.host",
    "resources.dns.other.outputs.host",
    "resources.dns#.outputs.x",
    "resources.dns",
    "metadata.name",
];

fn resolver_env() -> (
    EnvContext,
    ResourceKey,
    ValueMap,
    BTreeMap<ResourceKey, Outputs>,
) {
    let env = EnvContext::new("shop", "dev", "development");
    let resource = ResourceKey::new("postgres", "default", "shared.db");
    let mut values = ValueMap::new();
    values.insert("PUBLIC".into(), SharedValue::plain("pub-value"));
    values.insert("SECRET".into(), SharedValue::secret("s3cr3t-value"));
    values.insert("dotted.key".into(), SharedValue::plain("dotted"));
    let mut outputs = BTreeMap::new();
    let obj = |v: Value| -> Map<String, Value> { v.as_object().unwrap().clone() };
    outputs.insert(
        ResourceKey::new("dns", "default", "shared.db"),
        Outputs {
            values: obj(json!({"host": "db.example.org", "port": 5432, "obj": {"k": [1, "two"]}})),
            secrets: obj(json!({"pw": "dns-password", "pwobj": {"inner": "inner-secret"}})),
        },
    );
    outputs.insert(
        ResourceKey::new("k8s-cluster", "default", "k8s-cluster"),
        Outputs {
            values: obj(json!({"url": "https://k8s"})),
            secrets: Map::new(),
        },
    );
    outputs.insert(
        ResourceKey::new("s3", "edge", "bucket.x"),
        Outputs {
            values: obj(json!({"name": "bkt"})),
            secrets: Map::new(),
        },
    );
    (env, resource, values, outputs)
}

/// Text mixing literals, escapes and placeholders of the vocabulary.
fn template() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(VOCABULARY).prop_map(|r| format!("${{{r}}}")),
            1 => proptest::sample::select(vec!["$$", "$", "x", " ", "-", "${", "${}", "}", "\u{e9}"])
                .prop_map(str::to_owned),
            1 => "[a-z]{1,4}",
        ],
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

fn template_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => template().prop_map(Value::String),
        1 => any::<i32>().prop_map(|n| json!(n)),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The expected resolution of one string, from the tokens and the table.
fn expected_str(s: &str) -> Option<(Value, bool)> {
    let tokens = tokenize(s).ok()?;
    if let [Token::Placeholder { raw, .. }] = tokens.as_slice() {
        return table(raw);
    }
    let mut out = String::new();
    let mut secret = false;
    for t in tokens {
        match t {
            Token::Literal(l) => out.push_str(&l),
            Token::Placeholder { raw, .. } => {
                let (v, s) = table(&raw)?;
                secret |= s;
                match v {
                    Value::String(x) => out.push_str(&x),
                    other => out.push_str(&other.to_string()),
                }
            }
        }
    }
    Some((Value::String(out), secret))
}

/// The expected resolution of a whole value.
fn expected_value(v: &Value) -> Option<(Value, bool)> {
    match v {
        Value::String(s) => expected_str(s),
        Value::Array(items) => {
            let mut secret = false;
            let mut out = Vec::new();
            for item in items {
                let (x, s) = expected_value(item)?;
                secret |= s;
                out.push(x);
            }
            Some((Value::Array(out), secret))
        }
        Value::Object(map) => {
            let mut secret = false;
            let mut out = Map::new();
            for (k, item) in map {
                let (x, s) = expected_value(item)?;
                secret |= s;
                out.insert(k.clone(), x);
            }
            Some((Value::Object(out), secret))
        }
        other => Some((other.clone(), false)),
    }
}

fn definition(
    values: Map<String, Value>,
    secrets: Map<String, Value>,
    grants: Vec<String>,
) -> ResourceDefinition {
    ResourceDefinition::new(
        "def",
        1,
        DefinitionSpec {
            res_type: "postgres".into(),
            driver_type: "podium/echo".into(),
            driver_inputs: DriverInputs { values, secrets },
            grants,
            criteria: vec![],
        },
    )
}

fn check_resolution(
    values: &Map<String, Value>,
    secrets: &Map<String, Value>,
    grants: &[String],
) -> Result<(), TestCaseError> {
    let (env, resource, shared, outputs) = resolver_env();
    let resolver = Resolver {
        env: &env,
        resource: &resource,
        guresid: "g123",
        deploy_id: "d456",
        values: &shared,
        outputs: &outputs,
    };
    // Each value on its own, secrets allowed.
    for v in values.values().chain(secrets.values()) {
        let got = resolver.resolve(v, "x");
        match (expected_value(v), got) {
            (Some((want, secret)), Ok(r)) => {
                prop_assert_eq!(r.value, want);
                prop_assert_eq!(r.secret, secret);
            }
            (None, Err(e)) => prop_assert!(!e.to_string().is_empty()),
            (want, got) => prop_assert!(false, "{}: expected {:?}, got {:?}", v, want, got),
        }
    }
    // The whole definition: secrets only in `secrets`.
    let def = definition(values.clone(), secrets.clone(), grants.to_vec());
    let values_ok: Option<Vec<(Value, bool)>> = values.values().map(expected_value).collect();
    let secrets_ok: Option<Vec<(Value, bool)>> = secrets.values().map(expected_value).collect();
    let grants_ok: Option<Vec<(Value, bool)>> = grants.iter().map(|g| expected_str(g)).collect();
    match resolver.resolve_inputs(&def) {
        Ok(r) => {
            let values_ok = values_ok.expect("values resolved although a placeholder cannot");
            prop_assert!(secrets_ok.is_some() && grants_ok.is_some());
            prop_assert!(
                values_ok.iter().all(|(_, s)| !s),
                "a secret in driver_inputs.values"
            );
            let grants_ok = grants_ok.unwrap();
            prop_assert!(grants_ok.iter().all(|(_, s)| !s), "a secret in grants");
            let shown: Vec<String> = grants_ok
                .into_iter()
                .map(|(v, _)| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect();
            prop_assert_eq!(r.grants, shown);
        }
        Err(ResolveError::SecretNotAllowed { at, raw }) => {
            prop_assert!(
                at.starts_with("driver_inputs.values") || at.starts_with("grants"),
                "{}",
                at
            );
            prop_assert!(table(&raw).is_some_and(|(_, s)| s), "{} is not secret", raw);
        }
        Err(e) => {
            let all_ok = values_ok.is_some() && secrets_ok.is_some() && grants_ok.is_some();
            prop_assert!(!all_ok, "refused resolvable inputs: {}", e);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn resolution_agrees_with_the_table(
        values in proptest::collection::btree_map("[a-d]", template_value(), 0..4),
        secrets in proptest::collection::btree_map("[a-d]", template_value(), 0..4),
        grants in proptest::collection::vec(template(), 0..3),
    ) {
        let values: Map<String, Value> = values.into_iter().collect();
        let secrets: Map<String, Value> = secrets.into_iter().collect();
        check_resolution(&values, &secrets, &grants)?;
    }

    #[test]
    fn definition_references_never_panic(
        values in proptest::collection::btree_map("[a-d]", template_value(), 0..4),
        grants in proptest::collection::vec(template(), 0..3),
    ) {
        let def = definition(values.into_iter().collect(), Map::new(), grants);
        match podium_core::placeholders::definition_references(&def) {
            Ok(found) => {
                for l in found {
                    prop_assert!(!l.at.is_empty() && !l.raw.is_empty());
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

// ---------------------------------------------------------------------------
// Deltas

/// Keys that need JSON-pointer escaping or look like array indexes.
fn awkward_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-d]",
        1 => proptest::sample::select(vec!["", "/", "~", "~0", "~1", "a/b", "-", "0", "01", "1", " ", "\u{e9}"])
            .prop_map(str::to_owned),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..5).prop_map(|n| json!(n)),
        Just(json!(1.5)),
        "[a-c~/]{0,2}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(awkward_key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn module_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[w-z]",
        1 => proptest::sample::select(vec!["a/b", "~", "web.api", "-"]).prop_map(str::to_owned),
    ]
}

fn workload(name: &str, extra: Map<String, Value>, resources: Map<String, Value>) -> Value {
    let mut w = json!({"metadata": {"name": name}, "containers": {"main": {"image": "i"}}});
    let obj = w.as_object_mut().unwrap();
    for (k, v) in extra {
        if k != "metadata" && k != "containers" && k != "resources" {
            obj.insert(k, v);
        }
    }
    if !resources.is_empty() {
        obj.insert("resources".into(), Value::Object(resources));
    }
    w
}

fn resource_request() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(vec!["postgres", "dns", "s3"]),
        proptest::option::of(proptest::sample::select(vec!["default", "large"])),
        proptest::option::of("[p-r]"),
        proptest::option::of(json_value()),
    )
        .prop_map(|(t, class, id, params)| {
            let mut r = json!({"type": t});
            if let Some(c) = class {
                r["class"] = json!(c);
            }
            if let Some(id) = id {
                r["id"] = json!(id);
            }
            if let Some(p) = params {
                r["params"] = p;
            }
            r
        })
}

fn random_set() -> impl Strategy<Value = DeploymentSet> {
    (
        proptest::collection::btree_map(
            module_name(),
            (
                proptest::collection::btree_map(awkward_key(), json_value(), 0..4),
                proptest::collection::btree_map("[a-c]", resource_request(), 0..3),
            ),
            0..4,
        ),
        proptest::collection::btree_map("[p-r]", resource_request(), 0..3),
    )
        .prop_map(|(modules, shared)| {
            let modules = modules
                .into_iter()
                .map(|(name, (extra, res))| {
                    let w = workload(
                        &name,
                        extra.into_iter().collect(),
                        res.into_iter().collect(),
                    );
                    (name, w)
                })
                .collect();
            DeploymentSet::new(modules, shared.into_iter().collect()).unwrap()
        })
}

/// A set and a small edit of it, so `diff` yields fine-grained patches
/// (unrelated random sets mostly replace whole values).
fn set_pair() -> impl Strategy<Value = (DeploymentSet, DeploymentSet)> {
    (
        random_set(),
        proptest::collection::vec(
            (any::<proptest::sample::Index>(), json_value(), 0u8..3),
            0..4,
        ),
    )
        .prop_map(|(a, edits)| {
            let (modules, shared) = a.clone().into_parts();
            let mut modules: BTreeMap<String, Value> = modules
                .into_iter()
                .map(|(k, v)| (k, (*v).clone()))
                .collect();
            for (at, value, how) in edits {
                let names: Vec<String> = modules.keys().cloned().collect();
                if names.is_empty() {
                    break;
                }
                let name = at.get(&names).clone();
                let w = modules.get_mut(&name).unwrap();
                let mut leaves = Vec::new();
                pointers(w, &mut String::new(), &mut leaves);
                leaves.retain(|p| {
                    !p.starts_with("/metadata")
                        && !p.starts_with("/containers")
                        && !p.starts_with("/resources")
                });
                let Some(p) = leaves.get(at.index(leaves.len().max(1))).cloned() else {
                    continue;
                };
                let (parent, last) = p.rsplit_once('/').unwrap();
                let last = last.replace("~1", "/").replace("~0", "~");
                // 0: insert before (arrays), 1: remove, 2: replace.
                match (w.pointer_mut(parent).unwrap(), how) {
                    (Value::Array(items), 0) => {
                        let i: usize = last.parse().unwrap();
                        items.insert(i, value);
                    }
                    (Value::Array(items), 1) => {
                        let i: usize = last.parse().unwrap();
                        items.remove(i);
                    }
                    (Value::Object(map), 1) => {
                        map.shift_remove(&last);
                    }
                    (Value::Array(items), _) => {
                        let i: usize = last.parse().unwrap();
                        items[i] = value;
                    }
                    (Value::Object(map), _) => {
                        map.insert(last, value);
                    }
                    _ => {}
                }
            }
            let b = DeploymentSet::new(modules, shared).unwrap();
            (a, b)
        })
}

fn pointers(value: &Value, at: &mut String, out: &mut Vec<String>) {
    let mut child = |at: &mut String, seg: &str, v: &Value| {
        let len = at.len();
        at.push('/');
        at.push_str(&seg.replace('~', "~0").replace('/', "~1"));
        out.push(at.clone());
        pointers(v, at, out);
        at.truncate(len);
    };
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| child(at, &i.to_string(), v)),
        Value::Object(map) => map.iter().for_each(|(k, v)| child(at, k, v)),
        _ => {}
    }
}

fn check_diff(a: &DeploymentSet, b: &DeploymentSet) -> Result<(), TestCaseError> {
    let d = diff(a, b);
    let got = d.apply(a);
    prop_assert_eq!(
        got.as_ref().map(DeploymentSet::id),
        Ok(b.id()),
        "delta {}",
        serde_json::to_string(&d).unwrap()
    );
    prop_assert_eq!(&got.unwrap(), b);
    prop_assert_eq!(d.is_empty(), a.id() == b.id());
    let wire: Delta = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    prop_assert_eq!(&wire, &d);
    let again = wire.apply(a).unwrap();
    prop_assert_eq!(again.id(), b.id());
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn diff_then_apply_gives_the_target(a in random_set(), b in random_set()) {
        check_diff(&a, &b)?;
        check_diff(&b, &a)?;
    }

    #[test]
    fn diff_of_small_edits_applies((a, b) in set_pair()) {
        check_diff(&a, &b)?;
        check_diff(&b, &a)?;
    }

    #[test]
    fn diffs_compose(a in random_set(), (b, c) in set_pair()) {
        let ab = diff(&a, &b).apply(&a).unwrap();
        let bc = diff(&ab, &c).apply(&ab).unwrap();
        prop_assert_eq!(bc.id(), c.id());
    }

    #[test]
    fn empty_delta_is_identity(a in random_set()) {
        let same = Delta::default().apply(&a).unwrap();
        prop_assert_eq!(same.id(), a.id());
        prop_assert_eq!(&same, &a);
        prop_assert!(diff(&a, &a).is_empty());
        // Through the set's own wire form as well.
        let wire: DeploymentSet = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        prop_assert_eq!(wire.id(), a.id());
    }
}

/// JSON-Patch operations over paths likely to exist in a set, and junk.
fn patch_op(paths: Vec<String>) -> impl Strategy<Value = Value> {
    let path = prop_oneof![
        3 => proptest::sample::select(paths),
        // The root and the empty key: moves and copies from there are
        // where json-patch's undo broke.
        1 => proptest::sample::select(vec!["", "/"]).prop_map(str::to_owned),
        1 => proptest::sample::select(vec![
            "", "/", "/-", "/0", "/metadata", "/metadata/name", "/containers", "/resources",
            "/resources/a", "/resources/a/type", "/x/-", "/x/0", "/x/01", "/~2", "/~", "a", "//",
            "/p", "/p/type", "/p/params/-", "/q",
        ]).prop_map(str::to_owned),
    ];
    (
        proptest::sample::select(vec![
            "add", "remove", "replace", "move", "copy", "test", "bogus",
        ]),
        path.clone(),
        path,
        json_value(),
    )
        .prop_map(
            |(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}),
        )
}

fn arbitrary_delta(a: &DeploymentSet) -> impl Strategy<Value = Value> + use<> {
    let mut paths = vec!["/".to_owned()];
    for w in a.modules().values() {
        pointers(w, &mut String::new(), &mut paths);
    }
    pointers(&a.shared_json(), &mut String::new(), &mut paths);
    let names: Vec<String> = a
        .modules()
        .keys()
        .cloned()
        .chain(["w".into(), "zz".into()])
        .collect();
    let ops = move || proptest::collection::vec(patch_op(paths.clone()), 0..4);
    (
        proptest::collection::btree_map(
            proptest::sample::select(names.clone()),
            prop_oneof![
                (proptest::sample::select(names.clone()), proptest::collection::btree_map("[a-c]", resource_request(), 0..2))
                    .prop_map(|(n, r)| workload(&n, Map::new(), r.into_iter().collect())),
                json_value(),
            ],
            0..2,
        ),
        proptest::collection::btree_map(proptest::sample::select(names.clone()), ops(), 0..3),
        proptest::collection::btree_set(proptest::sample::select(names), 0..2),
        ops(),
    )
        .prop_map(|(add, update, remove, shared)| {
            json!({"modules": {"add": add, "update": update, "remove": remove}, "shared": shared})
        })
}

/// What an applied delta must give, checked against its parts.
fn check_applied(
    a: &DeploymentSet,
    delta: &Delta,
    out: &DeploymentSet,
) -> Result<(), TestCaseError> {
    // A valid set: rebuilding it from its parts gives the same id.
    let (modules, shared) = out.clone().into_parts();
    let rebuilt = DeploymentSet::new(
        modules
            .into_iter()
            .map(|(k, v)| (k, (*v).clone()))
            .collect(),
        shared,
    )
    .unwrap();
    prop_assert_eq!(rebuilt.id(), out.id());
    for name in &delta.modules.remove {
        prop_assert!(out.module(name).is_none());
    }
    let expected_names: BTreeSet<&String> = a
        .modules()
        .keys()
        .chain(delta.modules.add.keys())
        .filter(|n| !delta.modules.remove.contains(*n))
        .collect();
    prop_assert_eq!(
        out.modules().keys().collect::<BTreeSet<_>>(),
        expected_names
    );
    // Modules the delta does not touch are unchanged.
    for (name, w) in a.modules() {
        if !delta.modules.add.contains_key(name)
            && !delta.modules.update.contains_key(name)
            && !delta.modules.remove.contains(name)
        {
            prop_assert_eq!(out.module(name), Some(&**w));
        }
    }
    if delta.shared.is_empty() {
        prop_assert_eq!(out.shared(), a.shared());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn arbitrary_deltas_apply_or_fail_cleanly(
        (a, raw) in random_set().prop_flat_map(|a| {
            let d = arbitrary_delta(&a);
            (Just(a), d)
        })
    ) {
        match serde_json::from_value::<Delta>(raw.clone()) {
            Ok(delta) => match delta.apply(&a) {
                Ok(out) => check_applied(&a, &delta, &out)?,
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            },
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn arbitrary_json_is_not_a_panic(raw in json_value(), a in random_set()) {
        if let Ok(delta) = serde_json::from_value::<Delta>(raw.clone())
            && let Ok(out) = delta.apply(&a)
        {
            check_applied(&a, &delta, &out)?;
        }
        let _ = serde_json::from_value::<DeploymentSet>(raw);
    }
}

// ---------------------------------------------------------------------------
// Planning arbitrary sets (what a deploy of an arbitrary delta reaches)

const TYPES: &[&str] = &[
    "postgres",
    "dns",
    "workload",
    "k8s-cluster",
    "k8s-namespace",
    "environment",
    "",
    "odd.type",
    "a#b",
];

fn loose_request() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(TYPES),
        proptest::option::of(proptest::sample::select(vec![
            "default", "large", "", "x.y",
        ])),
        proptest::option::of(proptest::sample::select(vec![
            "db", "", "a.b", "#", "outputs",
        ])),
        proptest::option::of(template_value()),
    )
        .prop_map(|(t, class, id, params)| {
            let mut r = json!({"type": t});
            if let Some(c) = class {
                r["class"] = json!(c);
            }
            if let Some(id) = id {
                r["id"] = json!(id);
            }
            if let Some(p) = params {
                r["params"] = p;
            }
            r
        })
}

/// Definition inputs: references between the types above, odd ones too.
fn definition_template() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(TYPES),
        proptest::sample::select(vec![
            "",
            ".large",
            "#shared.db",
            ".default#db",
            "#modules.web.externals.db",
        ]),
        proptest::sample::select(vec!["x", "x.y", "0"]),
    )
        .prop_map(|(t, sel, out)| format!("${{resources.{t}{sel}.outputs.{out}}}"))
}

fn loose_definitions() -> impl Strategy<Value = Vec<ResourceDefinition>> {
    proptest::collection::vec(
        (
            proptest::sample::select(TYPES),
            proptest::collection::btree_map(
                "[a-c]",
                prop_oneof![definition_template(), template()],
                0..3,
            ),
            proptest::collection::vec(
                (
                    proptest::option::of(proptest::sample::select(vec!["shop", "blog"])),
                    proptest::option::of(proptest::sample::select(vec![
                        "shared.db",
                        "modules.web",
                    ])),
                    proptest::option::of(proptest::sample::select(vec!["default", "large"])),
                ),
                0..3,
            ),
        ),
        0..8,
    )
    .prop_map(|defs| {
        defs.into_iter()
            .enumerate()
            .map(|(i, (t, inputs, criteria))| {
                ResourceDefinition::new(
                    format!("d{i}"),
                    1,
                    DefinitionSpec {
                        res_type: t.to_owned(),
                        driver_type: "podium/echo".into(),
                        driver_inputs: DriverInputs {
                            values: inputs
                                .into_iter()
                                .map(|(k, v)| (k, Value::String(v)))
                                .collect(),
                            secrets: Map::new(),
                        },
                        grants: vec![],
                        criteria: criteria
                            .into_iter()
                            .map(|(app_id, res_id, class)| podium_core::Criterion {
                                app_id: app_id.map(str::to_owned),
                                res_id: res_id.map(str::to_owned),
                                class: class.map(str::to_owned),
                                ..Default::default()
                            })
                            .collect(),
                    },
                )
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn planning_arbitrary_sets_never_panics(
        modules in proptest::collection::btree_map(
            proptest::sample::select(vec!["web", "api", "a.b"]),
            proptest::collection::btree_map("[a-c]{1,2}", loose_request(), 0..4),
            0..3,
        ),
        shared in proptest::collection::btree_map(proptest::sample::select(vec!["db", "x", ""]), loose_request(), 0..3),
        defs in loose_definitions(),
        drop_some in any::<bool>(),
    ) {
        let modules: BTreeMap<String, Value> = modules
            .into_iter()
            .map(|(name, res)| {
                let w = workload(name, Map::new(), res.into_iter().collect());
                (name.to_owned(), w)
            })
            .collect();
        let shared = shared.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let Ok(set) = DeploymentSet::new(modules, shared) else {
            return Ok(());
        };
        // Catch-alls for every type (the generated ones are more specific,
        // or tie and are refused), so most cases get past matching.
        let mut registry = podium_core::Definitions::new();
        for (i, t) in TYPES.iter().enumerate() {
            let mut base = definition(Map::new(), Map::new(), vec![]);
            base.id = format!("base{i}");
            base.spec.res_type = (*t).to_owned();
            base.spec.criteria = vec![podium_core::Criterion::default()];
            registry.add(base).unwrap();
        }
        for d in defs {
            let _ = registry.add(d);
        }
        let env = EnvContext::new("shop", "dev", "development");
        let values = ValueMap::new();
        match podium_core::plan(&set, &env, &registry, &values, &[]) {
            Ok(first) => {
                for (i, s) in first.steps.iter().enumerate() {
                    prop_assert!(s.depends_on.iter().all(|&d| d < i));
                }
                // Planning again from what the first plan applied, with
                // some workloads gone, must not panic either.
                let (mut modules, shared) = set.clone().into_parts();
                if drop_some {
                    let first_name = modules.keys().next().cloned();
                    if let Some(n) = first_name {
                        modules.remove(&n);
                    }
                }
                let next = DeploymentSet::from_shared(modules, shared).unwrap();
                if let Err(e) = podium_core::plan(&next, &env, &registry, &values, &first.applied()) {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
