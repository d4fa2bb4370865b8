//! Every manifest rendered for `examples/hello/score.yaml` and for the valid
//! Score samples in `tests/score-spec/samples/valid` validates against the
//! official Kubernetes JSON Schemas in strict mode (PyPI
//! `kubernetes-validate` 1.37.0: Kubernetes 1.33 and 1.37), and passes the
//! checks the schemas miss (names, ports, selectors, references). Secret
//! values appear in Secrets only.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use podium_driver_kubernetes::manifest::Manifest;
use podium_driver_kubernetes::render::{Input, Target, render};
use podium_driver_kubernetes::workload::Workload;
use podium_driver_kubernetes::{names, profile};
use podium_tests_kubernetes::{checks, pipeline, repo_root, schemas};
use serde_json::{Value, json};

const VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The example and every valid sample that declares itself a Score workload
/// (the same selection as host/score/tests/conformance.rs).
fn score_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    walk(
        &repo_root().join("tests/score-spec/samples/valid"),
        &mut files,
    );
    files.retain(|p| {
        let yaml_or_json = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        yaml_or_json
            && fs::read_to_string(p).is_ok_and(|text| {
                text.lines().any(|l| {
                    let l = l.trim();
                    l.strip_prefix("apiVersion:")
                        .is_some_and(|v| v.trim().trim_matches(['"', '\'']) == "score.dev/v1b1")
                        || l.starts_with("\"apiVersion\": \"score.dev/v1b1\"")
                })
            })
    });
    files.sort();
    files.insert(0, repo_root().join("examples/hello/score.yaml"));
    files
}

fn target(workload: &str) -> Target {
    Target {
        app: "shop".into(),
        env: "dev".into(),
        namespace: "shop-dev".into(),
        owner: names::short_hash(&format!("shop/dev/{workload}"), 40),
    }
}

fn render_prepared(p: &pipeline::Prepared) -> Result<Vec<Manifest>, String> {
    let workload: Workload =
        serde_json::from_value(p.workload.clone()).map_err(|e| format!("decode: {e}"))?;
    let profile = profile::effective(&[]).map_err(|e| e.to_string())?;
    render(&Input {
        workload: &workload,
        profile: &profile,
        secrets: &p.workload_secrets,
        target: &target(&p.name),
    })
    .map_err(|e| format!("{}: {}", e.kind(), e.message()))
}

#[test]
fn every_rendered_manifest_is_valid_kubernetes() {
    let root = repo_root();
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    let mut rejected = BTreeMap::new();
    let mut rendered = 0;
    let mut with_secrets = 0;
    let files = score_files();
    for path in &files {
        let source = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let prepared = match pipeline::prepare(path) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{source}: the pipeline step failed: {e}"));
                continue;
            }
        };
        let manifests = match render_prepared(&prepared) {
            Ok(m) => m,
            Err(e) => {
                rejected.insert(source, e);
                continue;
            }
        };
        rendered += 1;
        let bodies: Vec<Value> = manifests.iter().map(|m| m.body.clone()).collect();
        for problem in checks::check(&bodies) {
            problems.push(format!("{source}: {problem}"));
        }
        if !prepared.workload_secrets.is_empty() {
            with_secrets += 1;
        }
        for secret in prepared.workload_secrets.values() {
            let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
            for m in manifests.iter().filter(|m| m.body["kind"] != "Secret") {
                let text = m.body.to_string();
                if text.contains(secret.as_str()) || text.contains(&b64) {
                    problems.push(format!("{source}: {} holds a secret value", m.id()));
                }
            }
        }
        objects.extend(bodies.into_iter().map(|b| (source.clone(), b)));
    }

    // The quick-start workload as a StatefulSet with a claim per replica.
    let mut stateful = pipeline::prepare(&root.join("examples/hello/score.yaml")).unwrap();
    stateful.workload["metadata"]["annotations"] = json!({"k8s.score.dev/kind": "StatefulSet"});
    stateful.workload["containers"]["web"]["volumes"] =
        json!({"/var/lib/hello": {"source": "hello-data"}});
    let manifests = render_prepared(&stateful).unwrap();
    let bodies: Vec<Value> = manifests.iter().map(|m| m.body.clone()).collect();
    assert!(bodies.iter().any(|b| b["kind"] == "StatefulSet"));
    for problem in checks::check(&bodies) {
        problems.push(format!("StatefulSet: {problem}"));
    }
    objects.extend(bodies.into_iter().map(|b| ("StatefulSet".to_owned(), b)));

    // The env's Namespace (k8s-namespace resources) too.
    let labels = BTreeMap::from([("team".to_owned(), "shop".to_owned())]);
    let annotations = BTreeMap::from([("owner".to_owned(), "platform@example.com".to_owned())]);
    objects.push((
        "k8s-namespace".to_owned(),
        podium_driver_kubernetes::namespace::manifest(
            "shop",
            "dev",
            "shop-dev",
            &labels,
            &annotations,
        )
        .unwrap(),
    ));

    let (checked, violations) = schemas::check(&objects, &VERSIONS);
    eprintln!(
        "{} Score files: {rendered} rendered ({with_secrets} with secret values) into {checked} objects, validated for Kubernetes {}; {} rejected by the driver",
        files.len(),
        VERSIONS.join(" and "),
        rejected.len()
    );
    for (source, why) in &rejected {
        eprintln!("  rejected {source}: {why}");
    }
    for v in &violations {
        eprintln!("  SCHEMA {v}");
    }
    for p in &problems {
        eprintln!("  PROBLEM {p}");
    }
    assert_eq!(checked, objects.len());
    assert!(
        violations.is_empty(),
        "{} schema violation(s)",
        violations.len()
    );
    assert!(problems.is_empty(), "{} problem(s)", problems.len());
    // Rejections must be the driver saying no to input Kubernetes cannot
    // take, never a crash or a bug.
    for (source, why) in &rejected {
        assert!(why.starts_with("invalid-input: "), "{source}: {why}");
    }
    assert!(
        rendered >= files.len() * 9 / 10,
        "too few rendered: {rendered}"
    );
    assert!(with_secrets > 0, "no sample exercised secret values");
}

#[test]
fn the_checks_catch_broken_manifests() {
    let hello = pipeline::prepare(&repo_root().join("examples/hello/score.yaml")).unwrap();
    let manifests = render_prepared(&hello).unwrap();
    let mut bodies: Vec<Value> = manifests.iter().map(|m| m.body.clone()).collect();
    assert!(checks::check(&bodies).is_empty());
    let deployment = bodies
        .iter_mut()
        .find(|b| b["kind"] == "Deployment")
        .unwrap();
    deployment["spec"]["replicas"] = json!("one");
    deployment["spec"]["unknownField"] = json!(true);
    deployment["spec"]["selector"]["matchLabels"]["extra"] = json!("x");
    deployment["metadata"]["name"] = json!("Not_A_Name");
    let service = bodies.iter_mut().find(|b| b["kind"] == "Service").unwrap();
    service["spec"]["ports"][0]["port"] = json!(70000);

    let problems = checks::check(&bodies);
    let text = problems.join("\n");
    for want in ["invalid name", "not in the pod labels", "out of range"] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    let objects: Vec<(String, Value)> = bodies.into_iter().map(|b| ("broken".into(), b)).collect();
    let (_, violations) = schemas::check(&objects, &["1.33.0"]);
    let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
    let text = text.join("\n");
    assert!(text.contains("spec.replicas"), "{text}");
    assert!(text.contains("unknownField"), "{text}");
}
