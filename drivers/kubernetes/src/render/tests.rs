use serde_json::{Value, json};

use super::*;
use crate::profile;

const PASSWORD: &str = "pg-Pa55word-xyz";

fn target() -> Target {
    Target {
        app: "shop".into(),
        env: "dev".into(),
        namespace: "shop-dev".into(),
        owner: "0123456789abcdef0123456789abcdef01234567".into(),
    }
}

fn hello() -> Value {
    json!({
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": "hello", "annotations": {"example.com/team": "a"}},
        "containers": {
            "web": {
                "image": "ghcr.io/acme/hello:1.0",
                "variables": {
                    "DATABASE_HOST": "db.internal",
                    "DATABASE_PORT": 5432,
                    "DATABASE_PASSWORD": {"$secret": "/containers/web/variables/DATABASE_PASSWORD"}
                },
                "files": {
                    "/etc/hello/app.conf": {"content": "greeting = hi\n", "mode": "0640"},
                    "/etc/hello/db.conf": {"content": {"$secret": "/containers/web/files/~1etc~1hello~1db.conf/content"}}
                },
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}
            }
        },
        "service": {"ports": {"www": {"port": 80, "targetPort": 8080}}},
        "resources": {"db": {"type": "postgres"}}
    })
}

fn secrets() -> SecretValues {
    [
        (
            "/containers/web/variables/DATABASE_PASSWORD".to_owned(),
            PASSWORD.to_owned(),
        ),
        (
            "/containers/web/files/~1etc~1hello~1db.conf/content".to_owned(),
            format!("password = {PASSWORD}\n"),
        ),
    ]
    .into()
}

fn render_with(workload: &Value, profile_layer: Option<&Value>) -> Result<Vec<Manifest>, Error> {
    let workload: Workload = serde_json::from_value(workload.clone()).unwrap();
    let profile = profile::effective(&[("params.profile", profile_layer)])?;
    render(&Input {
        workload: &workload,
        profile: &profile,
        secrets: &secrets(),
        target: &target(),
    })
}

fn find<'a>(objects: &'a [Manifest], kind: Kind, name_part: &str) -> &'a Manifest {
    objects
        .iter()
        .find(|m| m.kind == kind && m.name.contains(name_part))
        .unwrap_or_else(|| panic!("no {kind} with {name_part} in {:?}", ids(objects)))
}

fn ids(objects: &[Manifest]) -> Vec<String> {
    objects.iter().map(Manifest::id).collect()
}

#[test]
fn hello_renders_every_object_in_apply_order() {
    let objects = render_with(&hello(), None).unwrap();
    let ids = ids(&objects);
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert!(ids[0].starts_with("ConfigMap/hello-web-files-"), "{ids:?}");
    assert!(ids[1].starts_with("Secret/hello-web-env-"), "{ids:?}");
    assert!(
        ids[2].starts_with("Secret/hello-web-secret-files-"),
        "{ids:?}"
    );
    assert_eq!(ids[3], "Deployment/hello");
    assert_eq!(ids[4], "Service/hello");
    for m in &objects {
        assert_eq!(m.namespace, "shop-dev");
        assert_eq!(m.body["metadata"]["namespace"], "shop-dev");
        let labels = &m.body["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/name"], "hello");
        assert_eq!(labels["app.kubernetes.io/instance"], "hello-shop-dev");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "podium");
        assert_eq!(labels[crate::manifest::OWNER_LABEL], target().owner);
        assert!(m.content_hash().is_some());
    }
}

#[test]
fn selector_is_a_stable_subset_of_the_pod_labels() {
    let objects = render_with(&hello(), Some(&json!({"labels": {"team": "a"}}))).unwrap();
    let d = find(&objects, Kind::Deployment, "hello");
    let selector = d.body["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap();
    let pod_labels = d.body["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap();
    assert_eq!(selector.len(), 2);
    for (k, v) in selector {
        assert_eq!(pod_labels.get(k), Some(v));
    }
    assert_eq!(pod_labels["team"], "a");
    let s = find(&objects, Kind::Service, "hello");
    assert_eq!(
        &s.body["spec"]["selector"],
        &d.body["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        s.body["spec"]["ports"],
        json!([{"name": "www", "port": 80, "targetPort": 8080, "protocol": "TCP"}])
    );
}

#[test]
fn secrets_appear_only_in_secrets() {
    let objects = render_with(&hello(), None).unwrap();
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    for m in &objects {
        let text = m.body.to_string();
        let holds = text.contains(PASSWORD) || text.contains(&b64(PASSWORD));
        if m.kind == Kind::Secret {
            continue;
        }
        assert!(!holds, "{} holds the password: {text}", m.id());
    }
    let env = find(&objects, Kind::Secret, "-env-");
    assert_eq!(env.body["data"]["DATABASE_PASSWORD"], json!(b64(PASSWORD)));
    assert_eq!(env.body["type"], "Opaque");
    let files = find(&objects, Kind::Secret, "secret-files");
    assert!(
        files
            .body
            .to_string()
            .contains(&b64(&format!("password = {PASSWORD}\n")))
    );

    let d = find(&objects, Kind::Deployment, "hello");
    let env_vars = &d.body["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env_vars[0],
        json!({"name": "DATABASE_HOST", "value": "db.internal"})
    );
    assert_eq!(
        env_vars[1],
        json!({"name": "DATABASE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": env.name, "key": "DATABASE_PASSWORD"}}})
    );
    assert_eq!(
        env_vars[2],
        json!({"name": "DATABASE_PORT", "value": "5432"})
    );
}

#[test]
fn files_are_mounted_from_config_maps_and_secrets() {
    let objects = render_with(&hello(), None).unwrap();
    let cm = find(&objects, Kind::ConfigMap, "files");
    let key = crate::names::data_key("/etc/hello/app.conf");
    assert_eq!(cm.body["data"][&key], "greeting = hi\n");
    let d = find(&objects, Kind::Deployment, "hello");
    let pod = &d.body["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_array().unwrap();
    let cm_volume = volumes.iter().find(|v| v["configMap"].is_object()).unwrap();
    assert_eq!(cm_volume["configMap"]["name"], json!(cm.name));
    assert_eq!(
        cm_volume["configMap"]["items"],
        json!([{"key": key, "path": key, "mode": 0o640}])
    );
    let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
    assert_eq!(mounts.len(), 2);
    assert_eq!(mounts[0]["mountPath"], "/etc/hello/app.conf");
    assert_eq!(mounts[0]["subPath"], json!(key));
    assert_eq!(mounts[1]["mountPath"], "/etc/hello/db.conf");
    assert!(
        volumes
            .iter()
            .any(|v| v["secret"]["secretName"].is_string())
    );
}

#[test]
fn rendering_is_deterministic_and_hashes_follow_content() {
    let a = render_with(&hello(), None).unwrap();
    // Same workload, keys in another order.
    let mut reordered: Value =
        serde_json::from_str(&podium_driver_sdk::json::canonical(&hello())).unwrap();
    reordered["containers"]["web"]["variables"] = json!({
        "DATABASE_PASSWORD": {"$secret": "/containers/web/variables/DATABASE_PASSWORD"},
        "DATABASE_PORT": 5432,
        "DATABASE_HOST": "db.internal"
    });
    let b = render_with(&reordered, None).unwrap();
    assert_eq!(a, b);
    let text = |objects: &[Manifest]| {
        objects
            .iter()
            .map(|m| m.body.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(text(&a), text(&b));

    // A changed file changes the ConfigMap, the pods' config hash, and the
    // Deployment's content hash; the Service stays as it was.
    let mut changed = hello();
    changed["containers"]["web"]["files"]["/etc/hello/app.conf"]["content"] =
        json!("greeting = hello\n");
    let c = render_with(&changed, None).unwrap();
    let hash =
        |objects: &[Manifest], kind| find(objects, kind, "").content_hash().unwrap().to_owned();
    let pod_hash = |objects: &[Manifest]| {
        find(objects, Kind::Deployment, "hello").body["spec"]["template"]["metadata"]["annotations"]
            [crate::manifest::CONFIG_HASH]
            .clone()
    };
    assert_ne!(hash(&a, Kind::ConfigMap), hash(&c, Kind::ConfigMap));
    assert_ne!(pod_hash(&a), pod_hash(&c));
    assert_ne!(hash(&a, Kind::Deployment), hash(&c, Kind::Deployment));
    assert_eq!(hash(&a, Kind::Service), hash(&c, Kind::Service));
}

#[test]
fn default_profile_applies() {
    let objects = render_with(&hello(), None).unwrap();
    let d = find(&objects, Kind::Deployment, "hello");
    assert_eq!(d.body["spec"]["replicas"], 1);
    let pod = &d.body["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}})
    );
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"path": "/healthz", "port": 8080}})
    );
    assert_eq!(
        d.body["metadata"]["annotations"]["example.com/team"], "a",
        "workload annotations reach the Deployment"
    );
}

#[test]
fn profile_defaults_never_break_the_workloads_own_limits() {
    let mut w = hello();
    w["containers"]["web"]["resources"] = json!({"limits": {"cpu": "50m", "memory": "64Mi"}});
    let objects = render_with(&w, Some(&json!({"replicas": null}))).unwrap();
    let d = find(&objects, Kind::Deployment, "hello");
    assert!(d.body["spec"].get("replicas").is_none());
    assert_eq!(
        d.body["spec"]["template"]["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "50m", "memory": "64Mi"}})
    );
    let mut w = hello();
    w["containers"]["web"]["resources"] = json!({"requests": {"memory": "1Gi"}});
    let objects = render_with(&w, None).unwrap();
    let d = find(&objects, Kind::Deployment, "hello");
    assert_eq!(
        d.body["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "1Gi"
    );
    let mut w = hello();
    w["containers"]["web"]["resources"] = json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}});
    let err = render_with(&w, None).unwrap_err();
    assert!(err.message().contains("above its limit"), "{err}");
}

#[test]
fn before_maps_onto_init_containers_and_sidecars() {
    let w = json!({
        "metadata": {"name": "app"},
        "containers": {
            "main": {"image": "app:1", "before": {"migrate": {"ready": "complete"}, "proxy": {"ready": "healthy"}}},
            "migrate": {"image": "app:1", "command": ["migrate"], "before": {"proxy": {"ready": "started"}},
                         "readinessProbe": {"exec": {"command": ["true"]}}},
            "proxy": {"image": "proxy:1", "readinessProbe": {"httpGet": {"path": "/ready", "port": 15000}}}
        }
    });
    let objects = render_with(&w, None).unwrap();
    let pod = &find(&objects, Kind::Deployment, "app").body["spec"]["template"]["spec"];
    let init: Vec<&str> = pod["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(init, ["proxy", "migrate"]);
    let proxy = &pod["initContainers"][0];
    assert_eq!(proxy["restartPolicy"], "Always");
    assert_eq!(proxy["startupProbe"], proxy["readinessProbe"]);
    let migrate = &pod["initContainers"][1];
    assert!(migrate.get("restartPolicy").is_none());
    assert!(migrate.get("readinessProbe").is_none());
    assert_eq!(pod["containers"].as_array().unwrap().len(), 1);
    assert_eq!(pod["containers"][0]["name"], "main");
}

#[test]
fn volumes_become_claims_or_given_sources() {
    let w = json!({
        "metadata": {"name": "app"},
        "containers": {"main": {"image": "app:1", "volumes": {
            "/data": {"source": "app-data", "readOnly": true},
            "/cache": {"source": {"emptyDir": {}}, "path": "sub"}
        }}}
    });
    let objects = render_with(&w, None).unwrap();
    let pod = &find(&objects, Kind::Deployment, "app").body["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 2);
    assert!(
        volumes
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == "app-data")
    );
    assert!(volumes.iter().any(|v| v["emptyDir"] == json!({})));
    let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
    assert_eq!(mounts[0]["mountPath"], "/cache");
    assert_eq!(mounts[0]["subPath"], "sub");
    assert_eq!(mounts[1]["readOnly"], true);
}

/// Sets the value at a JSON pointer, creating objects on the way.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let mut at = doc;
    for part in pointer.split('/').skip(1) {
        if !at.is_object() {
            *at = json!({});
        }
        let key = part.replace("~1", "/");
        at = at
            .as_object_mut()
            .unwrap()
            .entry(key)
            .or_insert(Value::Null);
    }
    *at = value;
}

#[test]
fn bad_input_is_explained() {
    let cases = [
        ("/containers/web/image", json!("."), "image"),
        ("/service/ports/www/port", json!(70000), "outside 1-65535"),
        (
            "/containers/web/variables/X",
            json!({"$secret": "/nope"}),
            "does not hold",
        ),
        (
            "/containers/web/files/~1x",
            json!({"source": "x.conf"}),
            "must be inlined",
        ),
        (
            "/containers/web/files/~1y",
            json!({"content": "x", "mode": "999"}),
            "octal",
        ),
        (
            "/containers/web/volumes/~1d",
            json!({"source": "Not A Claim"}),
            "PersistentVolumeClaim",
        ),
        (
            "/service/ports/www/protocol",
            json!("HTTP"),
            "TCP, UDP or SCTP",
        ),
    ];
    for (pointer, value, want) in cases {
        let mut w = hello();
        set(&mut w, pointer, value);
        let err = render_with(&w, None).unwrap_err();
        assert!(err.message().contains(want), "{pointer}: {err}");
        assert_eq!(err.kind(), "invalid-input", "{pointer}: {err}");
    }
}

#[test]
fn names_are_always_valid() {
    let w = json!({
        "metadata": {"name": "9-lives"},
        "containers": {"c": {"image": "x:1", "files": {"/a/b": {"content": "1"}}}},
        "service": {"ports": {"a-very-long-port-name-indeed": {"port": 1}}}
    });
    let objects = render_with(&w, None).unwrap();
    for m in &objects {
        assert!(crate::names::is_dns_subdomain(&m.name), "{}", m.id());
    }
    let s = find(&objects, Kind::Service, "");
    assert!(crate::names::is_dns1035_label(&s.name), "{}", s.name);
}

#[test]
fn a_statefulset_when_the_workload_asks_with_claims_from_its_volumes() {
    let mut w = hello();
    w["metadata"]["annotations"]["k8s.score.dev/kind"] = json!("StatefulSet");
    w["containers"]["web"]["volumes"] = json!({
        "/var/lib/hello": {"source": "hello-data"},
        "/tmp/scratch": {"source": {"emptyDir": {}}}
    });
    let objects = render_with(&w, Some(&json!({"volume_claims": {"storage": "5Gi"}}))).unwrap();
    assert!(!objects.iter().any(|o| o.kind == Kind::Deployment));
    let sts = objects
        .iter()
        .find(|o| o.kind == Kind::StatefulSet)
        .unwrap();
    let spec = &sts.body["spec"];
    assert_eq!(sts.body["apiVersion"], "apps/v1");
    assert_eq!(spec["serviceName"], "hello");
    assert_eq!(
        spec["volumeClaimTemplates"],
        json!([{"metadata": {"name": "hello-data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}}])
    );
    let pod = &spec["template"]["spec"];
    let volumes = pod["volumes"].to_string();
    assert!(!volumes.contains("persistentVolumeClaim"), "{volumes}");
    assert!(volumes.contains("emptyDir"), "{volumes}");
    let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
    assert!(
        mounts.contains(&json!({"name": "hello-data", "mountPath": "/var/lib/hello"})),
        "{mounts:?}"
    );

    w["metadata"]["annotations"]["k8s.score.dev/kind"] = json!("DaemonSet");
    let e = render_with(&w, None).unwrap_err();
    assert!(e.message().contains("not Deployment or StatefulSet"), "{e}");
}
