//! Sets and deltas: content ids, merge rules, diff. One `check`: a set, a
//! delta (YAML) and the expected resulting set (YAML) or error text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use podium_core::{Delta, DeploymentSet, Images, diff};
use serde_json::json;

#[track_caller]
fn check(set_yaml: &str, delta_yaml: &str, expected: &str) {
    let before = set(set_yaml);
    let delta: Delta = serde_yaml_ng::from_str(delta_yaml).unwrap_or_else(|e| panic!("delta: {e}"));
    match delta.apply(&before) {
        Ok(after) => {
            let want = set(expected);
            assert_eq!(
                after,
                want,
                "\n{}",
                serde_json::to_string_pretty(&after).unwrap()
            );
            assert_eq!(after.id(), want.id());
            // The input set is untouched and diff takes us back and forth.
            assert_eq!(diff(&before, &after).apply(&before).unwrap(), after);
            assert_eq!(diff(&after, &before).apply(&after).unwrap(), before);
        }
        Err(e) => assert_text(&format!("error: {e}"), expected),
    }
}

const BASE: &str = r#"
modules:
  web: {metadata: {name: web}, containers: {main: {image: "web:1"}}}
  api: {metadata: {name: api}, containers: {main: {image: "api:1"}}, resources: {db: {type: postgres, id: db}}}
shared:
  db: {type: postgres, params: {size: 1}}
"#;

#[test]
fn add_inserts_and_replaces() {
    check(
        BASE,
        "modules: {add: {worker: {metadata: {name: worker}, containers: {main: {image: 'w:1'}}}}}",
        r#"
modules:
  web: {metadata: {name: web}, containers: {main: {image: "web:1"}}}
  api: {metadata: {name: api}, containers: {main: {image: "api:1"}}, resources: {db: {type: postgres, id: db}}}
  worker: {metadata: {name: worker}, containers: {main: {image: "w:1"}}}
shared:
  db: {type: postgres, params: {size: 1}}
"#,
    );
    check(
        BASE,
        "modules: {add: {web: {metadata: {name: web}, containers: {main: {image: 'web:2'}}}}}",
        r#"
modules:
  web: {metadata: {name: web}, containers: {main: {image: "web:2"}}}
  api: {metadata: {name: api}, containers: {main: {image: "api:1"}}, resources: {db: {type: postgres, id: db}}}
shared:
  db: {type: postgres, params: {size: 1}}
"#,
    );
}

#[test]
fn update_patches_remove_drops_shared_patches() {
    check(
        BASE,
        r#"
modules:
  update:
    api:
      - {op: replace, path: /containers/main/image, value: "api:2"}
      - {op: add, path: /containers/main/variables, value: {DB: "${resources.db.host}"}}
  remove: [web]
shared:
  - {op: replace, path: /db/params/size, value: 5}
  - {op: add, path: /files, value: {type: s3}}
"#,
        r#"
modules:
  api: {metadata: {name: api}, containers: {main: {image: "api:2", variables: {DB: "${resources.db.host}"}}}, resources: {db: {type: postgres, id: db}}}
shared:
  db: {type: postgres, params: {size: 5}}
  files: {type: s3}
"#,
    );
}

#[test]
fn add_then_update_in_one_delta() {
    check(
        "{}",
        r#"
modules:
  add: {web: {metadata: {name: web}, containers: {main: {image: "web:1"}}}}
  update: {web: [{op: add, path: /containers/main/command, value: [run]}]}
"#,
        r#"modules: {web: {metadata: {name: web}, containers: {main: {image: "web:1", command: [run]}}}}"#,
    );
}

#[test]
fn merge_errors() {
    let cases = [
        (
            "modules: {update: {nope: [{op: remove, path: /x}]}}",
            r#"error: modules.update.nope: no module "nope" in the set"#,
        ),
        (
            "modules: {remove: [nope]}",
            r#"error: modules.remove: no module "nope" in the set"#,
        ),
        (
            "modules: {remove: [web], update: {web: []}}",
            r#"error: module "web" is both removed and added or updated by one delta"#,
        ),
        (
            "modules: {update: {web: [{op: test, path: /containers/main/image, value: 'web:9'}]}}",
            "error: modules.update.web: operation '/0' failed at path '/containers/main/image': value did not match",
        ),
        (
            "modules: {update: {web: [{op: replace, path: /metadata/name, value: www}]}}",
            r#"error: module "web": metadata.name is "www", it must equal the module key"#,
        ),
        (
            "modules: {add: {www: {metadata: {name: web}, containers: {}}}}",
            r#"error: module "www": metadata.name is "web", it must equal the module key"#,
        ),
        (
            "shared: [{op: add, path: /x, value: {params: {}}}]",
            r#"error: shared resource "x": missing field `type`"#,
        ),
    ];
    for (delta, expected) in cases {
        check(BASE, delta, expected);
    }
}

#[test]
fn a_failed_update_is_atomic() {
    let before = set(BASE);
    let delta: Delta = serde_yaml_ng::from_str(
        "modules: {update: {web: [{op: add, path: /x, value: 1}, {op: remove, path: /nope}]}}",
    )
    .unwrap();
    assert!(delta.apply(&before).is_err());
    assert_eq!(before, set(BASE));
}

/// Found by the property tests (`tests/fuzz.rs`): `json_patch::patch` panics
/// when it cannot undo the ops it applied before a failing one; a delta
/// must fail with an error instead, through the API too (a 422).
#[test]
fn a_failed_patch_whose_undo_fails_is_an_error_not_a_panic() {
    let before = set(BASE);
    for delta in [
        "shared: [{op: add, path: /, value: null}, {op: move, from: /, path: /resources/a}]",
        "modules: {update: {web: [{op: add, path: /, value: 1}, {op: move, from: /, path: /a/b}]}}",
    ] {
        let delta: Delta = serde_yaml_ng::from_str(delta).unwrap();
        let result = std::panic::catch_unwind(|| delta.apply(&before));
        let result = result.unwrap_or_else(|_| panic!("apply panicked for {delta:?}"));
        assert!(result.is_err(), "{result:?}");
        assert_eq!(before, set(BASE));
    }
}

#[test]
fn set_ids() {
    let a = set(BASE);
    // Key order (at every depth) does not matter.
    let reordered = set(r#"
shared:
  db: {params: {size: 1}, type: postgres}
modules:
  api: {resources: {db: {id: db, type: postgres}}, containers: {main: {image: "api:1"}}, metadata: {name: api}}
  web: {containers: {main: {image: "web:1"}}, metadata: {name: web}}
"#);
    assert_eq!(a.id(), reordered.id());
    assert_eq!(a, reordered);
    assert_eq!(a.id().len(), 64);
    // An empty delta gives the same set.
    assert_eq!(Delta::default().apply(&a).unwrap().id(), a.id());
    // Any change gives a new id.
    let changes = [
        "modules: {update: {web: [{op: replace, path: /containers/main/image, value: 'web:2'}]}}",
        "modules: {update: {web: [{op: add, path: /containers/main/args, value: []}]}}",
        "modules: {remove: [web]}",
        "shared: [{op: replace, path: /db/params/size, value: 1.0}]",
        "shared: [{op: remove, path: /db/params}]",
    ];
    let mut ids = vec![a.id().to_owned()];
    for c in changes {
        let d: Delta = serde_yaml_ng::from_str(c).unwrap();
        let id = d.apply(&a).unwrap().id().to_owned();
        assert!(!ids.contains(&id), "{c}");
        ids.push(id);
    }
    // The id travels with the set and is checked on the way in.
    let mut wire = serde_json::to_value(&a).unwrap();
    assert_eq!(wire["id"], a.id());
    let back: DeploymentSet = serde_json::from_value(wire.clone()).unwrap();
    assert_eq!(back, a);
    wire["id"] = json!("0".repeat(64));
    let err = serde_json::from_value::<DeploymentSet>(wire).err().unwrap();
    assert!(err.to_string().starts_with("set id 0000"), "{err}");
}

#[test]
fn diff_of_equal_sets_is_empty_and_diff_is_readable() {
    let a = set(BASE);
    assert!(diff(&a, &a).is_empty());
    let b = set(r#"
modules:
  api: {metadata: {name: api}, containers: {main: {image: "api:2"}}, resources: {db: {type: postgres, id: db}}}
  worker: {metadata: {name: worker}, containers: {}}
shared:
  db: {type: postgres, params: {size: 1}}
"#);
    let d = diff(&a, &b);
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        json!({"modules": {
            "add": {"worker": {"containers": {}, "metadata": {"name": "worker"}}},
            "update": {"api": [{"op": "replace", "path": "/containers/main/image", "value": "api:2"}]},
            "remove": ["web"]
        }})
    );
}

#[test]
fn deploy_request_fills_images_or_names_the_container() {
    let score = json!({
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": "web"},
        "containers": {"main": {"image": "."}, "proxy": {"image": "envoy:1"}}
    });
    let delta = Delta::deploy([score.clone()], &Images::one("reg/web@sha256:abc")).unwrap();
    let after = delta.apply(&set(BASE)).unwrap();
    assert_eq!(
        after.module("web").unwrap()["containers"]["main"]["image"],
        "reg/web@sha256:abc"
    );
    assert_eq!(
        after.module("web").unwrap()["containers"]["proxy"]["image"],
        "envoy:1"
    );

    let err = Delta::deploy([score.clone()], &Images::default())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "workload \"web\": container \"main\" has image \".\" but the deploy request gives no image for it (give one image for all, or one for \"web.main\" or \"main\")"
    );
    let err = Delta::deploy([score.clone(), score], &Images::one("x"))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "workload \"web\" appears twice in one deploy request"
    );
}
