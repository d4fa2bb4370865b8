//! Deltas from arbitrary JSON applied to a small set: no panic (json-patch
//! panicked on a failed undo, see host/core/tests/delta.rs), and what
//! applies is a valid set that `diff` reproduces.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use podium_core::{Delta, DeploymentSet, diff};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(delta) = serde_json::from_slice::<Delta>(data) else {
        return;
    };
    let modules = BTreeMap::from([(
        "web".to_owned(),
        json!({"metadata": {"name": "web"}, "containers": {"main": {"image": "i", "args": ["a", "b"]}},
               "resources": {"db": {"type": "postgres", "id": "db", "params": {"x": [1, {"y": 2}]}}}}),
    )]);
    let shared = BTreeMap::from([(
        "db".to_owned(),
        json!({"type": "postgres", "params": {"size": 1}}),
    )]);
    let set = DeploymentSet::new(modules, shared).expect("a valid set");
    if let Ok(out) = delta.apply(&set) {
        let back = diff(&set, &out).apply(&set).expect("diff applies");
        assert_eq!(back.id(), out.id());
    }
});
