//! The built-in drivers `podium/postgres`, `podium/powerdns` and `podium/s3`
//! end to end through the service (issue 6): `podium serve` with a fresh
//! data directory, `podium apply -f` of an env type, app, env, secret shared
//! values and definitions pointing at the test servers
//! (`scripts/backends/*.sh`), `podium deploy --wait` of a Score workload that
//! needs a `postgres`, a `dns` name and an `s3` bucket; then checks from
//! outside Podium with `psql`, `dig`, PowerDNS's own database (`sqlite3`) and
//! boto3.
//!
//! # How the test gets the generated credentials
//!
//! The API never returns secrets, by design. A workload gets them through
//! its `workload` driver (in production the Kubernetes driver puts them into a
//! `Secret`). The staging `workload` definition here routes workloads to
//! `podium/echo`, whose secret outputs are exactly what it was handed: the
//! plaintext of the Score variables that hold secrets
//! (`driver_secrets.workload_secrets`). The test reads them where the service
//! keeps them, in its data directory, with the service stopped (the store
//! admits one process): the operator's side of the trust boundary, never the
//! API. So `psql` logs in with the password the workload would receive.
//!
//! Every test uses its own app id, unique to the run: names in the servers
//! derive from it, so a run never meets leftovers of an earlier one, and
//! counting names with the app's prefix tells orphans and duplicates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use podium_backend_driver_tests::{Backend, backend, root, run};
use serde_json::Value;

/// Tests share the servers; the one that stops PostgreSQL takes them alone.
static SERVERS: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    SERVERS.read().unwrap_or_else(|e| e.into_inner())
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    SERVERS.write().unwrap_or_else(|e| e.into_inner())
}

const ENV: &str = "staging";
const DB: &str = "postgres.default#modules.api.externals.db";
const DNS: &str = "dns.default#modules.api.externals.dns";
const FILES: &str = "s3.default#modules.api.externals.files";

/// The workload: every output it needs becomes a container variable, the
/// secret ones (password, S3 keys) included.
const API: &str = r#"
apiVersion: score.dev/v1b1
metadata: {name: api}
containers:
  main:
    image: registry.invalid/api:1
    variables:
      DB_HOST: ${resources.db.host}
      DB_PORT: ${resources.db.port}
      DB_NAME: ${resources.db.database}
      DB_USER: ${resources.db.username}
      DB_PASSWORD: ${resources.db.password}
      PUBLIC_HOST: ${resources.dns.host}
      S3_ENDPOINT: ${resources.files.endpoint}
      S3_REGION: ${resources.files.region}
      S3_BUCKET: ${resources.files.bucket}
      AWS_ACCESS_KEY_ID: ${resources.files.aws_access_key_id}
      AWS_SECRET_ACCESS_KEY: ${resources.files.aws_secret_access_key}
resources:
  db: {type: postgres}
  dns: {type: dns}
  files: {type: s3}
"#;

/// The same workload without its resources: deploying it deletes them.
const API_ALONE: &str = r#"
apiVersion: score.dev/v1b1
metadata: {name: api}
containers:
  main:
    image: registry.invalid/api:1
"#;

struct Servers {
    pg: &'static Backend,
    pdns: &'static Backend,
    s3: &'static Backend,
}

fn servers() -> Servers {
    Servers {
        pg: backend("postgres"),
        pdns: backend("powerdns"),
        s3: backend("s3"),
    }
}

/// `<tag>-<hex>`, unique to this run.
fn unique_app(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{tag}-{:x}",
        (nanos as u64) ^ (u64::from(std::process::id()) << 40)
    )
}

/// What `podium apply -f` gets: the env type, app, env, the secret shared
/// values and the staging definitions. Definitions read the secrets from
/// the shared values, so no definition holds one.
struct Setup {
    app: String,
    pg_admin_password: String,
    pdns_api_key: String,
    s3_access_key_id: String,
    s3_secret_key: String,
    pg_grant: Option<String>,
    pdns_grant: Option<String>,
    s3_grant: Option<String>,
    /// Spells out the drivers' defaults (`admin_database`, `ttl`) and sets
    /// `force_delete`: new definition versions, so the next deploy calls
    /// every driver again.
    second_version: bool,
}

impl Setup {
    fn new(app: &str, s: &Servers) -> Setup {
        Setup {
            app: app.to_owned(),
            pg_admin_password: s.pg.var("PODIUM_PG_ADMIN_PASSWORD").to_owned(),
            pdns_api_key: s.pdns.var("PODIUM_PDNS_API_KEY").to_owned(),
            s3_access_key_id: s.s3.var("PODIUM_S3_ACCESS_KEY_ID").to_owned(),
            s3_secret_key: s.s3.var("PODIUM_S3_SECRET_KEY").to_owned(),
            pg_grant: Some(s.pg.var("PODIUM_PG_GRANT").to_owned()),
            pdns_grant: Some(s.pdns.var("PODIUM_PDNS_GRANT").to_owned()),
            s3_grant: Some(s.s3.var("PODIUM_S3_GRANT").to_owned()),
            second_version: false,
        }
    }

    fn yaml(&self, s: &Servers) -> String {
        // JSON strings are YAML scalars: safe quoting for any secret.
        let q = |v: &str| serde_json::to_string(v).unwrap();
        let grants = |g: &Option<String>| match g {
            Some(g) => format!("[{}]", q(g)),
            None => "[]".to_owned(),
        };
        let app = &self.app;
        let (pg, pdns, s3) = (s.pg, s.pdns, s.s3);
        let v2 = self.second_version;
        format!(
            r#"apiVersion: podium.dev/v1
kind: EnvironmentType
metadata: {{id: {ENV}}}
---
apiVersion: podium.dev/v1
kind: Application
metadata: {{id: {app}}}
---
apiVersion: podium.dev/v1
kind: Environment
metadata: {{id: {ENV}, app: {app}}}
spec: {{type: {ENV}}}
---
apiVersion: podium.dev/v1
kind: Values
metadata: {{app: {app}}}
spec:
  PG_ADMIN_PASSWORD: {{value: {pg_pw}, secret: true}}
  PDNS_API_KEY: {{value: {pdns_key}, secret: true}}
  S3_ACCESS_KEY_ID: {{value: {s3_id}, secret: true}}
  S3_SECRET_KEY: {{value: {s3_key}, secret: true}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: {ENV}-postgres}}
spec:
  type: postgres
  driver_type: podium/postgres
  criteria: [{{env_type: {ENV}}}]
  grants: {pg_grant}
  driver_inputs:
    values:
      host: {pg_host}
      port: {pg_port}
      admin_user: {pg_admin}{pg_v2}
    secrets:
      admin_password: "${{values.PG_ADMIN_PASSWORD}}"
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: {ENV}-dns}}
spec:
  type: dns
  driver_type: podium/powerdns
  criteria: [{{env_type: {ENV}}}]
  grants: {pdns_grant}
  driver_inputs:
    values:
      api_url: {pdns_url}
      zone: {zone}
      target: 10.0.0.7{pdns_v2}
    secrets:
      api_key: "${{values.PDNS_API_KEY}}"
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: {ENV}-s3}}
spec:
  type: s3
  driver_type: podium/s3
  criteria: [{{env_type: {ENV}}}]
  grants: {s3_grant}
  driver_inputs:
    values:
      endpoint: {s3_endpoint}
      region: {s3_region}{s3_v2}
    secrets:
      access_key_id: "${{values.S3_ACCESS_KEY_ID}}"
      secret_key: "${{values.S3_SECRET_KEY}}"
---
# The implicit per-environment resources and the workload itself: no
# cluster here; podium/echo hands the workload's resolved variables back
# as its outputs (the secret ones as secret outputs).
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: {ENV}-k8s-cluster}}
spec:
  type: k8s-cluster
  driver_type: podium/echo
  criteria: [{{env_type: {ENV}}}]
  driver_inputs: {{values: {{name: {ENV}, url: "https://kubernetes.invalid"}}}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: {ENV}-k8s-namespace}}
spec:
  type: k8s-namespace
  driver_type: podium/template
  criteria: [{{env_type: {ENV}}}]
  driver_inputs:
    values:
      templates:
        outputs: 'namespace: "{{{{ context.app_id }}}}-{{{{ context.env_id }}}}"'
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: {ENV}-workload}}
spec:
  type: workload
  driver_type: podium/echo
  criteria: [{{env_type: {ENV}}}]
  driver_inputs:
    values: {{namespace: "${{resources.k8s-namespace.outputs.namespace}}"}}
"#,
            pg_pw = q(&self.pg_admin_password),
            pdns_key = q(&self.pdns_api_key),
            s3_id = q(&self.s3_access_key_id),
            s3_key = q(&self.s3_secret_key),
            pg_grant = grants(&self.pg_grant),
            pdns_grant = grants(&self.pdns_grant),
            s3_grant = grants(&self.s3_grant),
            pg_host = pg.var("PODIUM_PG_HOST"),
            pg_port = pg.var("PODIUM_PG_PORT"),
            pg_admin = pg.var("PODIUM_PG_ADMIN_USER"),
            pg_v2 = if v2 {
                "\n      admin_database: postgres"
            } else {
                ""
            },
            pdns_url = q(pdns.var("PODIUM_PDNS_API_URL")),
            zone = pdns.var("PODIUM_PDNS_ZONE"),
            pdns_v2 = if v2 { "\n      ttl: 300" } else { "" },
            s3_endpoint = q(s3.var("PODIUM_S3_ENDPOINT")),
            s3_region = s3.var("PODIUM_S3_REGION"),
            s3_v2 = if v2 { "\n      force_delete: true" } else { "" },
        )
    }

    /// `podium apply -f` of [`Setup::yaml`]; returns the CLI's output.
    fn apply(&self, s: &Server, servers: &Servers, dir: &Path) -> Output {
        let path = file(dir, "setup.yaml", &self.yaml(servers));
        let o = s.cli(&["apply", "-f", &path]);
        assert!(o.status.success(), "apply: {}\n{}", stdout(&o), stderr(&o));
        o
    }
}

/// `podium deploy -f SCORE --app APP --env staging --wait`: the output and
/// the deployment id.
fn deploy(s: &Server, dir: &Path, score: &str, app: &str) -> (Output, String) {
    let path = file(dir, "score.yaml", score);
    let o = s.cli(&["deploy", "-f", &path, "--app", app, "--env", ENV, "--wait"]);
    let text = stdout(&o);
    let id = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("deployment ")
                .and_then(|r| r.split_whitespace().next())
        })
        .unwrap_or_else(|| panic!("no deployment id in {text}\n{}", stderr(&o)))
        .to_owned();
    (o, id)
}

fn deployment(s: &Server, id: &str) -> Value {
    let (st, d) = s.get(&format!("/api/v1/deploys/{id}"));
    assert_eq!(st, 200, "{d}");
    d
}

fn events(s: &Server, app: &str, id: &str) -> Value {
    let (st, e) = s.get(&format!(
        "/api/v1/apps/{app}/envs/{ENV}/deploys/{id}/events"
    ));
    assert_eq!(st, 200, "{e}");
    e
}

/// The progress entry of `key` in a deployment.
fn step<'a>(d: &'a Value, key: &str) -> &'a Value {
    d["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            format!(
                "{}.{}#{}",
                r["type"].as_str().unwrap_or(""),
                r["class"].as_str().unwrap_or(""),
                r["res_id"].as_str().unwrap_or("")
            ) == key
        })
        .unwrap_or_else(|| panic!("no resource {key} in {d}"))
}

/// `podium get resources -o json`, by type.
fn resources(s: &Server, app: &str) -> Vec<Value> {
    let o = s.cli(&["get", "resources", "--app", app, "--env", ENV, "-o", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str::<Value>(&stdout(&o))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn of_type<'a>(list: &'a [Value], res_type: &str) -> Option<&'a Value> {
    list.iter().find(|r| r["type"] == res_type)
}

fn out<'a>(r: &'a Value, key: &str) -> &'a str {
    r["values"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no output {key} in {r}"))
}

/// The secrets the workload received (plaintext of its secret variables,
/// by variable name) and the secret outputs of every resource, read from the
/// stopped service's data directory (see the module docs).
struct Delivered {
    variables: serde_json::Map<String, Value>,
    outputs: Vec<(String, serde_json::Map<String, Value>)>,
}

fn delivered(data: &Path, app: &str) -> Delivered {
    let repo = open_repo(data);
    let active = repo.active(app, ENV).unwrap();
    let workload = active
        .iter()
        .find(|a| a.resource.key.res_type == "workload")
        .expect("the workload is active");
    let variables = workload.secrets["workload_secrets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(pointer, v)| {
            let name = pointer.rsplit('/').next().unwrap_or(pointer);
            (name.to_owned(), v.clone())
        })
        .collect();
    let outputs = active
        .iter()
        .map(|a| (a.resource.key.res_type.clone(), a.secrets.clone()))
        .collect();
    Delivered { variables, outputs }
}

impl Delivered {
    fn var(&self, name: &str) -> &str {
        self.variables[name]
            .as_str()
            .unwrap_or_else(|| panic!("the workload got no secret {name}"))
    }

    fn output(&self, res_type: &str, key: &str) -> &str {
        self.outputs
            .iter()
            .find(|(t, _)| t == res_type)
            .and_then(|(_, s)| s.get(key))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{res_type} has no secret output {key}"))
    }
}

// ---- From outside: the servers' own clients. ----

/// `psql` as `user` into `database`; Ok(stdout) or Err(stderr).
fn psql(
    s: &Servers,
    user: &str,
    password: &str,
    database: &str,
    sql: &str,
) -> Result<String, String> {
    let o = run(
        "psql",
        &[
            "-h",
            s.pg.var("PODIUM_PG_HOST"),
            "-p",
            s.pg.var("PODIUM_PG_PORT"),
            "-U",
            user,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-w",
            "-qAtc",
            sql,
        ],
        &[("PGPASSWORD", password), ("PGCONNECT_TIMEOUT", "5")],
    );
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).trim().to_owned())
    }
}

fn admin(s: &Servers, sql: &str) -> String {
    psql(
        s,
        s.pg.var("PODIUM_PG_ADMIN_USER"),
        s.pg.var("PODIUM_PG_ADMIN_PASSWORD"),
        "postgres",
        sql,
    )
    .unwrap()
}

/// PostgreSQL names start with the app id, `-` turned into `_`.
fn pg_prefix(app: &str) -> String {
    format!("{}_", app.replace('-', "_"))
}

/// Databases and roles of the app: (databases, roles).
fn pg_names(s: &Servers, app: &str) -> (Vec<String>, Vec<String>) {
    let prefix = pg_prefix(app);
    let list = |sql: String| -> Vec<String> {
        admin(s, &sql)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    (
        list(format!(
            "SELECT datname FROM pg_database WHERE starts_with(datname, '{prefix}') ORDER BY 1"
        )),
        list(format!(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, '{prefix}') ORDER BY 1"
        )),
    )
}

/// `dig +short` against the test PowerDNS.
fn dig(s: &Servers, name: &str) -> String {
    let o = run(
        "dig",
        &[
            &format!("@{}", s.pdns.var("PODIUM_PDNS_DNS_HOST")),
            "-p",
            s.pdns.var("PODIUM_PDNS_DNS_PORT"),
            "+short",
            "+time=2",
            "+tries=2",
            name,
            "A",
        ],
        &[],
    );
    assert!(o.status.success(), "dig failed: {o:?}");
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// Rows of PowerDNS's database whose name contains `needle`: `id name type
/// content`. A rewritten record gets a new row id.
fn pdns_rows(s: &Servers, needle: &str) -> Vec<String> {
    let o = run(
        "sqlite3",
        &[
            "-readonly",
            s.pdns.var("PODIUM_PDNS_DB"),
            &format!(
                "SELECT id || ' ' || name || ' ' || type || ' ' || content FROM records \
                 WHERE instr(name, '{needle}') > 0 AND type <> 'SOA' ORDER BY id"
            ),
        ],
        &[],
    );
    assert!(o.status.success(), "sqlite3 failed: {o:?}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `s3_check.py` (boto3, path-style, SigV4) with these credentials.
fn s3_check(s: &Servers, keys: (&str, &str), bucket: &str, args: &[&str]) -> String {
    let script = root().join("tests/backend-drivers/s3_check.py");
    let mut all = vec![
        script.to_str().unwrap(),
        s.s3.var("PODIUM_S3_ENDPOINT"),
        s.s3.var("PODIUM_S3_REGION"),
        bucket,
    ];
    all.extend_from_slice(args);
    let o = run(
        s.s3.var("PODIUM_S3_PYTHON"),
        &all,
        &[
            ("AWS_ACCESS_KEY_ID", keys.0),
            ("AWS_SECRET_ACCESS_KEY", keys.1),
        ],
    );
    assert!(
        o.status.success(),
        "s3_check {args:?} on {bucket}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn admin_keys(s: &Servers) -> (&'static str, &'static str) {
    (
        s.s3.var("PODIUM_S3_ACCESS_KEY_ID"),
        s.s3.var("PODIUM_S3_SECRET_KEY"),
    )
}

/// Buckets of the app (their names start with the app id).
fn buckets(s: &Servers, app: &str) -> Vec<String> {
    s3_check(s, admin_keys(s), &format!("{app}-"), &["buckets"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What the app has in the three servers: (databases, roles, DNS rows,
/// buckets).
fn inventory(s: &Servers, app: &str) -> (usize, usize, usize, usize) {
    let (dbs, roles) = pg_names(s, app);
    (
        dbs.len(),
        roles.len(),
        pdns_rows(s, app).len(),
        buckets(s, app).len(),
    )
}

/// What identifies the provisioned things: recreating any would change it.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    database_oid: String,
    role_oid: String,
    dns_rows: Vec<String>,
    bucket_created: String,
}

fn fingerprint(s: &Servers, app: &str, database: &str, user: &str, bucket: &str) -> Fingerprint {
    Fingerprint {
        database_oid: admin(
            s,
            &format!("SELECT oid FROM pg_database WHERE datname = '{database}'"),
        ),
        role_oid: admin(
            s,
            &format!("SELECT oid FROM pg_roles WHERE rolname = '{user}'"),
        ),
        dns_rows: pdns_rows(s, app),
        bucket_created: s3_check(s, admin_keys(s), bucket, &["created"]),
    }
}

/// Asserts that none of `secrets` occurs in `text` (named `what`).
fn assert_absent(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a secret ({}…) appears in {what}",
            &secret[..4.min(secret.len())]
        );
    }
}

#[test]
fn deploy_check_from_outside_redeploy_reapply_and_remove() {
    let _shared = shared();
    let servers = servers();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    let mut s = Server::start_logging(&data, "info", &log);
    let app = unique_app("e6");
    let mut setup = Setup::new(&app, &servers);
    let o = setup.apply(&s, &servers, tmp.path());
    assert!(
        stdout(&o).contains(&format!("definition/{ENV}-postgres configured")),
        "{}",
        stdout(&o)
    );

    // 1. Deploy: the three resources through their drivers.
    let (o, first) = deploy(&s, tmp.path(), API, &app);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let d = deployment(&s, &first);
    for key in [DB, DNS, FILES] {
        assert_eq!(step(&d, key)["action"], "create", "{d}");
        assert_eq!(step(&d, key)["status"], "succeeded", "{d}");
    }

    // What the API shows: outputs, secrets redacted.
    let list = resources(&s, &app);
    let db = of_type(&list, "postgres").unwrap().clone();
    let dns = of_type(&list, "dns").unwrap().clone();
    let files = of_type(&list, "s3").unwrap().clone();
    assert_eq!(db["driver_type"], "podium/postgres");
    assert_eq!(db["secrets"]["password"], "<redacted>", "{db}");
    assert_eq!(files["secrets"]["secret_key"], "<redacted>", "{files}");
    let (database, user) = (
        out(&db, "database").to_owned(),
        out(&db, "username").to_owned(),
    );
    assert!(database.starts_with(&pg_prefix(&app)), "{database}");
    assert_eq!(out(&db, "host"), servers.pg.var("PODIUM_PG_HOST"));
    assert_eq!(
        db["values"]["port"].to_string(),
        servers.pg.var("PODIUM_PG_PORT")
    );
    let host = out(&dns, "host").to_owned();
    let bucket = out(&files, "bucket").to_owned();
    assert_eq!(
        out(&files, "endpoint"),
        servers.s3.var("PODIUM_S3_ENDPOINT")
    );
    assert_eq!(out(&files, "region"), servers.s3.var("PODIUM_S3_REGION"));

    // The credentials as the workload got them (see the module docs).
    s.stop();
    let got = delivered(&data, &app);
    let s = Server::start_logging(&data, "info", &log);
    let password = got.var("DB_PASSWORD").to_owned();
    assert_eq!(password, got.output("postgres", "password"));
    assert_eq!(password.len(), 32);
    let keys = (
        got.var("AWS_ACCESS_KEY_ID").to_owned(),
        got.var("AWS_SECRET_ACCESS_KEY").to_owned(),
    );
    assert_eq!(keys.0, servers.s3.var("PODIUM_S3_ACCESS_KEY_ID"));
    assert_eq!(keys.1, got.output("s3", "secret_key"));
    // Non-secret variables are plain in the workload's request.
    let workload = of_type(&list, "workload").unwrap();
    let vars = &workload["values"]["workload"]["containers"]["main"]["variables"];
    assert_eq!(vars["DB_USER"], user.as_str(), "{workload}");
    assert_eq!(vars["PUBLIC_HOST"], host.as_str(), "{workload}");
    assert_eq!(
        vars["DB_PASSWORD"]["$secret"],
        "/containers/main/variables/DB_PASSWORD"
    );

    // 2. From outside: psql logs in and creates a table, dig resolves the
    //    host, boto3 writes and reads an object with the output keys.
    let got = psql(
        &servers,
        &user,
        &password,
        &database,
        "CREATE TABLE notes (t text); INSERT INTO notes VALUES ('through podium'); SELECT t FROM notes",
    );
    assert_eq!(got.as_deref(), Ok("through podium"));
    assert_eq!(dig(&servers, &host), "10.0.0.7");
    let keys = (keys.0.as_str(), keys.1.as_str());
    s3_check(
        &servers,
        keys,
        &bucket,
        &["put", "hello.txt", "hello from e2e"],
    );
    assert_eq!(
        s3_check(&servers, keys, &bucket, &["get", "hello.txt"]),
        "hello from e2e"
    );
    let before = fingerprint(&servers, &app, &database, &user, &bucket);
    assert_eq!(before.dns_rows.len(), 1, "{before:?}");

    // 3. Redeploy the same file: every resource unchanged, nothing touched.
    let (o, second) = deploy(&s, tmp.path(), API, &app);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let d = deployment(&s, &second);
    for key in [DB, DNS, FILES] {
        assert_eq!(step(&d, key)["action"], "unchanged", "{d}");
    }
    assert_eq!(
        fingerprint(&servers, &app, &database, &user, &bucket),
        before
    );

    // 4. New definition versions (defaults spelled out, force_delete on): the
    //    drivers run again and change nothing; same password.
    setup.second_version = true;
    setup.apply(&s, &servers, tmp.path());
    let (o, third) = deploy(&s, tmp.path(), API, &app);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let d = deployment(&s, &third);
    for key in [DB, DNS, FILES] {
        assert_eq!(step(&d, key)["action"], "update", "{d}");
        assert_eq!(step(&d, key)["status"], "succeeded", "{d}");
    }
    assert_eq!(
        fingerprint(&servers, &app, &database, &user, &bucket),
        before
    );
    assert_eq!(
        psql(&servers, &user, &password, &database, "SELECT t FROM notes").as_deref(),
        Ok("through podium"),
        "the password or the database changed"
    );
    assert_eq!(dig(&servers, &host), "10.0.0.7");
    assert_eq!(
        s3_check(&servers, keys, &bucket, &["get", "hello.txt"]),
        "hello from e2e"
    );
    assert_eq!(inventory(&servers, &app), (1, 1, 1, 1));

    // 5. The resources leave the Score file: deleted in the servers.
    let (o, fourth) = deploy(&s, tmp.path(), API_ALONE, &app);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let d = deployment(&s, &fourth);
    for key in [DB, DNS, FILES] {
        assert_eq!(step(&d, key)["action"], "delete", "{d}");
        assert_eq!(step(&d, key)["status"], "succeeded", "{d}");
    }
    let list = resources(&s, &app);
    for t in ["postgres", "dns", "s3"] {
        assert!(of_type(&list, t).is_none(), "{t} still active: {list:?}");
    }
    assert_eq!(inventory(&servers, &app), (0, 0, 0, 0));
    assert_eq!(dig(&servers, &host), "");
    assert_eq!(
        s3_check(&servers, admin_keys(&servers), &bucket, &["exists"]),
        "no"
    );
    assert!(
        psql(&servers, &user, &password, &database, "SELECT 1").is_err(),
        "the role still logs in"
    );

    // No secret in the API's answers or the server's log.
    let secrets = [
        password.as_str(),
        keys.1,
        servers.pg.var("PODIUM_PG_ADMIN_PASSWORD"),
        servers.pdns.var("PODIUM_PDNS_API_KEY"),
    ];
    for id in [&first, &second, &third, &fourth] {
        assert_absent(
            &format!("deployment {id}"),
            &deployment(&s, id).to_string(),
            &secrets,
        );
        assert_absent(
            &format!("events of {id}"),
            &events(&s, &app, id).to_string(),
            &secrets,
        );
    }
    let mut s = s;
    s.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("ServiceStarted") && log.contains("ResourceDeleted"),
        "{log}"
    );
    assert_absent("the server log", &log, &secrets);
}

#[test]
fn a_backend_down_fails_the_deploy_and_the_next_one_recovers() {
    let _alone = alone();
    let servers = servers();
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    let app = unique_app("e6down");
    Setup::new(&app, &servers).apply(&s, &servers, tmp.path());

    // PostgreSQL is down for one deploy (started again at once: other
    // tests on this machine may use it).
    servers.pg.stop();
    let (o, failed) = deploy(&s, tmp.path(), API, &app);
    servers.pg.start();
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    // The CLI names the resource and the server.
    let err = stderr(&o);
    eprintln!("{err}");
    assert!(err.contains(DB), "{err}");
    assert!(err.contains("PostgreSQL at 127.0.0.1:55432"), "{err}");
    let d = deployment(&s, &failed);
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(d["error"]["resource"], DB, "{d}");
    let message = d["error"]["message"].as_str().unwrap();
    assert!(message.contains("unavailable"), "{message}");
    assert!(
        message.contains("PostgreSQL at 127.0.0.1:55432"),
        "{message}"
    );
    assert_eq!(d["error"]["driver"], "podium/postgres", "{d}");
    assert!(
        d["error"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{d}"
    );
    // The others are independent and went through; the workload waited.
    assert_eq!(step(&d, DNS)["status"], "succeeded", "{d}");
    assert_eq!(step(&d, FILES)["status"], "succeeded", "{d}");
    assert_eq!(
        step(&d, "workload.default#modules.api")["status"],
        "skipped",
        "{d}"
    );
    assert_eq!(inventory(&servers, &app), (0, 0, 1, 1));

    // Back up: the next deploy creates the database; nothing twice.
    let (o, next) = deploy(&s, tmp.path(), API, &app);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let d = deployment(&s, &next);
    assert_eq!(step(&d, DB)["action"], "create", "{d}");
    assert_eq!(step(&d, DNS)["action"], "unchanged", "{d}");
    assert_eq!(step(&d, FILES)["action"], "unchanged", "{d}");
    assert_eq!(inventory(&servers, &app), (1, 1, 1, 1));
    let list = resources(&s, &app);
    assert_eq!(list.iter().filter(|r| r["type"] == "postgres").count(), 1);
    let (dbs, roles) = pg_names(&servers, &app);
    assert_eq!(
        dbs,
        vec![out(of_type(&list, "postgres").unwrap(), "database").to_owned()]
    );
    assert_eq!(
        roles,
        vec![out(of_type(&list, "postgres").unwrap(), "username").to_owned()]
    );

    // Clean up through the service.
    let (o, _) = deploy(&s, tmp.path(), API_ALONE, &app);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(inventory(&servers, &app), (0, 0, 0, 0));
}

#[test]
fn wrong_credentials_give_readable_errors_and_never_leak() {
    let _shared = shared();
    let servers = servers();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    // Debug: driver log lines and the HTTP and SQL clients' own logs too.
    let mut s = Server::start_logging(&data, "debug", &log);
    let app = unique_app("e6creds");
    let salt = unique_app("x");
    let wrong_pg = format!("Wrong-Pg-Admin-Secret-{salt}");
    let wrong_pdns = format!("Wrong-Pdns-Key-{salt}");
    let wrong_s3 = format!("Wrong+S3/Secret-Key-{salt}");
    let mut setup = Setup::new(&app, &servers);
    setup.pg_admin_password = wrong_pg.clone();
    setup.pdns_api_key = wrong_pdns.clone();
    setup.s3_secret_key = wrong_s3.clone();
    let applied = setup.apply(&s, &servers, tmp.path());

    let (o, id) = deploy(&s, tmp.path(), API, &app);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    eprintln!("{}", stderr(&o));
    let d = deployment(&s, &id);
    assert_eq!(d["status"], "failed", "{d}");
    // Each server's refusal, in words, naming the server.
    for (key, needles) in [
        (
            DB,
            [
                "PostgreSQL at 127.0.0.1:55432",
                "password authentication failed",
            ],
        ),
        (DNS, ["PowerDNS", "401"]),
        (FILES, ["S3 at http://127.0.0.1:15001", "403"]),
    ] {
        let r = step(&d, key);
        assert_eq!(r["status"], "failed", "{r}");
        let message = r["message"].as_str().unwrap();
        eprintln!("{key}: {message}");
        assert!(message.contains("denied"), "{message}");
        for n in needles {
            assert!(message.contains(n), "{n:?} not in {message}");
        }
        // The host masks known secrets: a mask would mean the driver had
        // put one into its error.
        assert!(!message.contains("<redacted>"), "{message}");
    }

    // Every answer about it, through the CLI and the API.
    let mut texts = vec![
        (
            "apply output".to_owned(),
            stdout(&applied) + &stderr(&applied),
        ),
        ("deploy output".to_owned(), stdout(&o) + &stderr(&o)),
        ("deployment".to_owned(), d.to_string()),
        ("events".to_owned(), events(&s, &app, &id).to_string()),
    ];
    let logs = s.cli(&["logs", &id]);
    texts.push(("podium logs".into(), stdout(&logs) + &stderr(&logs)));
    let plan = s.cli(&[
        "plan",
        "-f",
        &file(tmp.path(), "plan.yaml", API),
        "--app",
        &app,
        "--env",
        ENV,
    ]);
    texts.push(("podium plan".into(), stdout(&plan) + &stderr(&plan)));
    for path in [
        format!("/api/v1/apps/{app}/envs/{ENV}/resources"),
        format!("/api/v1/apps/{app}/envs/{ENV}/deploys"),
        format!("/api/v1/apps/{app}/values"),
        "/api/v1/resource-definitions".to_owned(),
        format!("/api/v1/resource-definitions/{ENV}-postgres/versions"),
    ] {
        texts.push((path.clone(), s.get(&path).1.to_string()));
    }
    let secrets = [wrong_pg.as_str(), wrong_pdns.as_str(), wrong_s3.as_str()];
    for (what, text) in &texts {
        assert_absent(what, text, &secrets);
        assert!(
            !text.contains("Wrong-") && !text.contains("Wrong+"),
            "a part of a secret appears in {what}"
        );
    }
    // Events carry the errors too, without masks.
    let events = events(&s, &app, &id);
    let failed: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "ResourceFailed")
        .collect();
    assert_eq!(failed.len(), 3, "{events}");
    assert!(!events.to_string().contains("<redacted>"), "{events}");

    // Right credentials: the next deploy goes through.
    let setup = Setup::new(&app, &servers);
    setup.apply(&s, &servers, tmp.path());
    let (o, _) = deploy(&s, tmp.path(), API, &app);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(inventory(&servers, &app), (1, 1, 1, 1));
    // The generated password went through SQL: it must not be in the debug
    // log either.
    s.stop();
    let password = delivered(&data, &app).var("DB_PASSWORD").to_owned();
    let mut s = Server::start_logging(&data, "debug", &log);
    let (o, _) = deploy(&s, tmp.path(), API_ALONE, &app);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(inventory(&servers, &app), (0, 0, 0, 0));

    s.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("DEBUG"), "the log is not at debug level");
    assert!(
        log.contains("ResourceFailed"),
        "the log misses the failures"
    );
    // Nor the role's SCRAM verifier the driver sent (tokio-postgres logs
    // statements at debug; the service holds it at info).
    assert!(
        !log.contains("SCRAM-SHA-256$"),
        "a password verifier in the log"
    );
    assert_absent("the server log", &log, &secrets);
    assert_absent(
        "the server log",
        &log,
        &[
            password.as_str(),
            servers.pg.var("PODIUM_PG_ADMIN_PASSWORD"),
            servers.pdns.var("PODIUM_PDNS_API_KEY"),
            servers.s3.var("PODIUM_S3_SECRET_KEY"),
        ],
    );
}

#[test]
fn a_definition_without_the_grant_is_denied() {
    let _shared = shared();
    let servers = servers();
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    let app = unique_app("e6grant");
    let mut setup = Setup::new(&app, &servers);
    // No grant at all, a grant for another port, a grant for another host.
    setup.pg_grant = None;
    setup.pdns_grant = Some("http://127.0.0.1:18082".into());
    setup.s3_grant = Some("http://localhost:15001".into());
    setup.apply(&s, &servers, tmp.path());

    let (o, id) = deploy(&s, tmp.path(), API, &app);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let d = deployment(&s, &id);
    for key in [DB, DNS, FILES] {
        let r = step(&d, key);
        assert_eq!(r["status"], "failed", "{r}");
        let message = r["message"].as_str().unwrap();
        eprintln!("{key}: {message}");
        assert!(message.contains("denied"), "{message}");
    }
    let pg_message = step(&d, DB)["message"].as_str().unwrap();
    assert!(
        pg_message.contains("the grant `postgres://127.0.0.1:55432` would allow it"),
        "{pg_message}"
    );
    // Nothing reached the servers.
    assert_eq!(inventory(&servers, &app), (0, 0, 0, 0));
    assert!(
        resources(&s, &app)
            .iter()
            .all(|r| r["type"] != "postgres" && r["type"] != "dns" && r["type"] != "s3")
    );
}
