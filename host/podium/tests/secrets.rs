//! Secrets stay secret (issue 8): known secret strings (a definition's
//! secret input, a secret shared value, the password `podium/postgres`
//! generates) are found zero times in API responses, CLI output, the
//! service's log, events, diffs, plan output and the raw bytes of the data
//! directory, while the workload still receives them; key rotation
//! re-seals everything and the service keeps working with the new key; a
//! wrong key is refused at start with a message naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;
use podium_backend_driver_tests::backend;
use serde_json::Value;

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}{:x}{:x}", nanos as u64, std::process::id())
}

fn setup_yaml(app: &str, def_secret: &str, value_secret: &str) -> String {
    let pg = backend("postgres");
    let q = |v: &str| serde_json::to_string(v).unwrap();
    format!(
        r#"apiVersion: podium.dev/v1
kind: EnvironmentType
metadata: {{id: staging}}
---
apiVersion: podium.dev/v1
kind: Application
metadata: {{id: {app}}}
---
apiVersion: podium.dev/v1
kind: Environment
metadata: {{id: staging, app: {app}}}
spec: {{type: staging}}
---
apiVersion: podium.dev/v1
kind: Values
metadata: {{app: {app}}}
spec:
  API_TOKEN: {{value: {value_secret}, secret: true}}
  LOG_LEVEL: {{value: info}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: staging-postgres}}
spec:
  type: postgres
  driver_type: podium/postgres
  criteria: [{{env_type: staging}}]
  grants: [{grant}]
  driver_inputs:
    values: {{host: {host}, port: {port}, admin_user: {user}}}
    secrets: {{admin_password: {pg_pw}}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: staging-redis}}
spec:
  type: redis
  driver_type: podium/echo
  criteria: [{{env_type: staging}}]
  driver_inputs:
    values: {{host: redis.internal, port: 6379}}
    secrets: {{password: {def_secret}}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: staging-k8s-cluster}}
spec:
  type: k8s-cluster
  driver_type: podium/echo
  criteria: [{{env_type: staging}}]
  driver_inputs: {{values: {{name: staging, url: "https://kubernetes.invalid"}}}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: staging-k8s-namespace}}
spec:
  type: k8s-namespace
  driver_type: podium/echo
  criteria: [{{env_type: staging}}]
  driver_inputs: {{values: {{namespace: ns}}}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: staging-workload}}
spec:
  type: workload
  driver_type: podium/echo
  criteria: [{{env_type: staging}}]
"#,
        grant = q(pg.var("PODIUM_PG_GRANT")),
        host = pg.var("PODIUM_PG_HOST"),
        port = pg.var("PODIUM_PG_PORT"),
        user = pg.var("PODIUM_PG_ADMIN_USER"),
        pg_pw = q(pg.var("PODIUM_PG_ADMIN_PASSWORD")),
        def_secret = q(def_secret),
        value_secret = q(value_secret),
    )
}

fn score(image: &str) -> String {
    format!(
        r#"apiVersion: score.dev/v1b1
metadata: {{name: api}}
containers:
  main:
    image: {image}
    variables:
      DB_PASSWORD: ${{resources.db.password}}
      DB_USER: ${{resources.db.username}}
      API_TOKEN: ${{resources.env.API_TOKEN}}
      CACHE_PASSWORD: ${{resources.cache.password}}
      LOG_LEVEL: ${{resources.env.LOG_LEVEL}}
resources:
  db: {{type: postgres}}
  env: {{type: environment}}
  cache: {{type: redis}}
"#
    )
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// `(where, text)` of everything a user or operator sees.
struct Seen(Vec<(String, Vec<u8>)>);

impl Seen {
    fn add(&mut self, what: impl Into<String>, text: impl Into<Vec<u8>>) {
        self.0.push((what.into(), text.into()));
    }
    fn api(&mut self, s: &Server, path: &str) -> Value {
        let (st, v) = s.get(path);
        assert_eq!(st, 200, "{path}: {v}");
        self.add(format!("GET {path}"), v.to_string());
        v
    }
    fn cli(&mut self, s: &Server, args: &[&str]) -> String {
        let o = s.cli(args);
        assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
        self.add(format!("podium {}", args.join(" ")), o.stdout.clone());
        self.add(
            format!("podium {} (stderr)", args.join(" ")),
            o.stderr.clone(),
        );
        stdout(&o)
    }
}

fn deployment_id(out: &str) -> String {
    out.lines()
        .find_map(|l| {
            l.strip_prefix("deployment ")
                .and_then(|r| r.split_whitespace().next())
        })
        .unwrap_or_else(|| panic!("no deployment id in {out}"))
        .to_owned()
}

#[test]
fn known_secrets_appear_nowhere_but_reach_the_workload_and_survive_rotation() {
    let pg = backend("postgres");
    let app = unique("sec");
    let def_secret = unique("defsecret-");
    let value_secret = unique("valuesecret-");
    let pg_admin = pg.var("PODIUM_PG_ADMIN_PASSWORD").to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("podium.log");
    // Everything our crates log, at the most verbose level.
    let filter = "info,podium=trace,podium_pipeline=trace,podium_runtime=trace,podium_store=trace";
    let mut s = Server::start_logging(&data, filter, &log);
    let mut seen = Seen(Vec::new());

    let setup = file(
        tmp.path(),
        "setup.yaml",
        &setup_yaml(&app, &def_secret, &value_secret),
    );
    seen.cli(&s, &["apply", "-f", &setup]);
    let v1 = file(tmp.path(), "v1.yaml", &score("registry.invalid/api:1"));
    let plan = seen.cli(&s, &["plan", "-f", &v1, "--app", &app, "--env", "staging"]);
    assert!(plan.contains("postgres"), "{plan}");
    let out = seen.cli(
        &s,
        &[
            "deploy", "-f", &v1, "--app", &app, "--env", "staging", "--wait",
        ],
    );
    let first = deployment_id(&out);
    let v2 = file(tmp.path(), "v2.yaml", &score("registry.invalid/api:2"));
    let out = seen.cli(
        &s,
        &[
            "deploy", "-f", &v2, "--app", &app, "--env", "staging", "--wait",
        ],
    );
    let second = deployment_id(&out);

    let base = format!("/api/v1/apps/{app}/envs/staging");
    for path in [
        format!("{base}/deploys"),
        format!("{base}/deploys/{first}"),
        format!("{base}/deploys/{second}"),
        format!("{base}/deploys/{first}/events"),
        format!("{base}/deploys/{second}/events"),
        format!("{base}/resources"),
        format!("{base}/graph"),
        format!("{base}/diff?from={first}&to={second}"),
        format!("{base}/explain?type=postgres&res_id=modules.api.externals.db"),
        format!("/api/v1/apps/{app}/values"),
        "/api/v1/resource-definitions".to_owned(),
        "/api/v1/resource-definitions/staging-postgres/versions".to_owned(),
        "/api/v1/resource-definitions/staging-redis".to_owned(),
    ] {
        seen.api(&s, &path);
    }
    let (st, _, plan) = s.send(
        "POST",
        &format!("{base}/plan"),
        "application/yaml",
        score("registry.invalid/api:3").as_bytes(),
    );
    assert_eq!(st, 200, "{plan}");
    seen.add("POST plan", plan.to_string());
    for args in [
        vec![
            "get",
            "resources",
            "--app",
            &app,
            "--env",
            "staging",
            "-o",
            "json",
        ],
        vec![
            "get", "deploys", "--app", &app, "--env", "staging", "-o", "yaml",
        ],
        vec!["diff", "--app", &app, "--env", "staging", &first, &second],
        vec!["logs", &second],
        vec!["values", "list", "--app", &app, "-o", "json"],
        vec!["values", "get", "API_TOKEN", "--app", &app],
        vec!["get", "defs", "-o", "json"],
    ] {
        seen.cli(&s, &args);
    }
    // The secret value is redacted, the plain one shown.
    let listed = seen.cli(&s, &["values", "get", "LOG_LEVEL", "--app", &app]);
    assert_eq!(listed.trim(), "info");

    // Rotation re-seals everything; the service goes on with the new key.
    let key_before = std::fs::read(data.join("secret.key")).unwrap();
    let rotated = seen.cli(&s, &["admin", "rotate-key"]);
    assert!(rotated.contains("re-sealed"), "{rotated}");
    assert_ne!(std::fs::read(data.join("secret.key")).unwrap(), key_before);
    let out = seen.cli(
        &s,
        &[
            "deploy", "-f", &v2, "--app", &app, "--env", "staging", "--wait",
        ],
    );
    let third = deployment_id(&out);
    let d = seen.api(&s, &format!("{base}/deploys/{third}"));
    assert_eq!(d["status"], "succeeded", "{d}");
    s.stop();

    // A restart reads everything with the rotated key.
    let mut s = Server::start_logging(&data, filter, &log);
    let out = seen.cli(
        &s,
        &[
            "deploy", "-f", &v2, "--app", &app, "--env", "staging", "--wait",
        ],
    );
    let fourth = deployment_id(&out);
    let d = seen.api(&s, &format!("{base}/deploys/{fourth}"));
    assert_eq!(d["status"], "succeeded", "{d}");
    s.stop();

    // What the workload got, read as the operator can (store + key file):
    // the secrets are there, in the clear, only inside the service.
    let repo = open_repo(&data);
    let active = repo.active(&app, "staging").unwrap();
    let db = active
        .iter()
        .find(|a| a.resource.key.res_type == "postgres")
        .unwrap();
    let pg_password = db.secrets["password"].as_str().unwrap().to_owned();
    assert!(pg_password.len() >= 16, "a generated password");
    let workload = active
        .iter()
        .find(|a| a.resource.key.res_type == "workload")
        .unwrap();
    let got = Value::Object(workload.secrets.clone()).to_string();
    for secret in [&pg_password, &value_secret, &def_secret] {
        assert!(
            got.contains(secret.as_str()),
            "the workload did not get a secret: {got}"
        );
    }
    drop(repo);

    let secrets = [
        ("definition secret", def_secret.as_str()),
        ("secret shared value", value_secret.as_str()),
        (
            "postgres admin password (definition secret)",
            pg_admin.as_str(),
        ),
        ("generated postgres password", pg_password.as_str()),
    ];
    seen.add("service log", std::fs::read(&log).unwrap());
    let mut sealed_seen = false;
    for f in walk(&data) {
        let bytes = std::fs::read(&f).unwrap();
        sealed_seen |= contains(&bytes, "podium-sealed:v1:");
        seen.add(format!("file {}", f.display()), bytes);
    }
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("SecretKeyRotated"), "the log is there");
    let mut leaks = Vec::new();
    for (what, text) in &seen.0 {
        for (name, secret) in secrets {
            if contains(text, secret) {
                leaks.push(format!("{name} in {what}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    assert!(sealed_seen, "no sealed secret found in the data directory");
}

#[test]
fn a_wrong_secret_key_is_refused_at_start_naming_the_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&data);
    app_env(&s, "shop", "dev");
    let (st, v) = s.put_json(
        "/api/v1/apps/shop/values/TOKEN",
        &serde_json::json!({"value": "tok-123456789", "secret": true}),
    );
    assert_eq!(st, 200, "{v}");
    s.stop();

    // Another key in PODIUM_SECRET_KEY_FILE: the sealed value does not open.
    let other = tmp.path().join("other.key");
    let bytes = podium_store::SecretKey::generate();
    std::fs::write(&other, podium_store::SecretKey::to_file_text(&bytes)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("PODIUM_SECRET_KEY_FILE", &other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    let other_id = podium_store::SecretKey::from_bytes(&bytes).id().to_owned();
    assert!(
        err.contains("not in the key ring") && err.contains(&other_id),
        "{err}"
    );

    // A key file others can read is refused too.
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("PODIUM_SECRET_KEY_FILE", &other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));

    // The right key still opens everything: nothing was lost.
    let s = Server::start(&data);
    let (st, v) = s.get("/api/v1/apps/shop/values");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["app"]["TOKEN"]["value"], "<redacted>");
}
