//! Authentication, authorization and the audit log through the real
//! service (issue 8): every API endpoint × every kind of token gets exactly
//! the expected 2xx, 401 or 403; a CI token for app `a` deploys to `a`'s
//! development env only; owners issue narrower tokens; the audit log has
//! every write, refused ones included.
//!
//! The expected status of each cell comes from the rules as the issue
//! states them (written out in [`expect`]), not from the service's table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Garbage,
    Expired,
    Admin,
    OwnerA,
    /// The CI token: deployer of `a`, env type `development` only.
    CiA,
    ViewerA,
    OwnerB,
}

const EVERYONE: [Who; 8] = [
    Who::Anonymous,
    Who::Garbage,
    Who::Expired,
    Who::Admin,
    Who::OwnerA,
    Who::CiA,
    Who::ViewerA,
    Who::OwnerB,
];

/// What an endpoint needs, as the issue defines the roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    AnyToken,
    Admin,
    ViewA,
    ManageA,
    PlanA,
    DeployADev,
    DeployAProd,
    /// Creating a deployer token of app `a` for development.
    IssueForA,
    DeployB,
}

fn allowed(who: Who, needs: Needs) -> bool {
    use Who::*;
    match who {
        Anonymous | Garbage | Expired => false,
        Admin => true,
        OwnerA => !matches!(needs, Needs::Admin | Needs::DeployB),
        CiA => matches!(
            needs,
            Needs::AnyToken | Needs::ViewA | Needs::PlanA | Needs::DeployADev
        ),
        ViewerA => matches!(needs, Needs::AnyToken | Needs::ViewA),
        OwnerB => matches!(needs, Needs::AnyToken | Needs::DeployB),
    }
}

/// The status class a cell must have: 2, or exactly 401 / 403.
fn expect(who: Who, needs: Needs) -> u16 {
    match who {
        Who::Anonymous | Who::Garbage | Who::Expired => 401,
        _ if allowed(who, needs) => 2,
        _ => 403,
    }
}

struct Tokens {
    admin: String,
    owner_a: String,
    ci_a: String,
    viewer_a: String,
    owner_b: String,
    expired: String,
}

impl Tokens {
    fn of(&self, who: Who) -> Option<String> {
        match who {
            Who::Anonymous => None,
            Who::Garbage => Some("pdm_000000000000_not-a-real-secret".to_owned()),
            Who::Expired => Some(self.expired.clone()),
            Who::Admin => Some(self.admin.clone()),
            Who::OwnerA => Some(self.owner_a.clone()),
            Who::CiA => Some(self.ci_a.clone()),
            Who::ViewerA => Some(self.viewer_a.clone()),
            Who::OwnerB => Some(self.owner_b.clone()),
        }
    }
}

fn create_token(s: &Server, body: Value) -> String {
    let (st, v) = s.post_json("/api/v1/tokens", &body);
    assert_eq!(st, 201, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

const SCORE: &str =
    "apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers:\n  main:\n    image: nginx:1\n";

fn deploy_body() -> Value {
    json!({"workloads": [{
        "apiVersion": "score.dev/v1b1", "metadata": {"name": "web"},
        "containers": {"main": {"image": "nginx:1"}}
    }]})
}

/// The platform the matrix runs on: apps `a` (envs `dev`: development,
/// `prod`: production) and `b` (`dev`), one finished deployment per env,
/// and the tokens.
fn platform(s: &Server) -> (Tokens, String, String) {
    let (st, v) = s.put_json("/api/v1/env-types/production", &json!({}));
    assert_eq!(st, 200, "{v}");
    // Production has no cluster here: podium/echo stands in for its drivers.
    for (res_type, values) in [
        ("k8s-cluster", json!({"name": "prod"})),
        ("k8s-namespace", json!({"namespace": "prod"})),
        ("workload", json!({})),
    ] {
        let (st, v) = s.put_json(
            &format!("/api/v1/resource-definitions/prod-{res_type}"),
            &json!({"type": res_type, "driver_type": "podium/echo",
                    "driver_inputs": {"values": values},
                    "criteria": [{"env_type": "production"}]}),
        );
        assert!(st == 200 || st == 201, "{v}");
    }
    app_env(s, "a", "dev");
    app_env(s, "b", "dev");
    let (st, v) = s.put_json("/api/v1/apps/a/envs/prod", &json!({"type": "production"}));
    assert_eq!(st, 200, "{v}");
    let mut ids = Vec::new();
    for (app, env) in [("a", "dev"), ("a", "prod"), ("b", "dev")] {
        let (st, v) = s.post_json(
            &format!("/api/v1/apps/{app}/envs/{env}/deploys?wait=true"),
            &deploy_body(),
        );
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["status"], "succeeded", "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let tokens = Tokens {
        admin: s.token.clone(),
        owner_a: create_token(s, json!({"name": "owner-a", "role": "owner", "app": "a"})),
        ci_a: create_token(
            s,
            json!({"name": "ci-a", "role": "deployer", "app": "a", "env_types": ["development"]}),
        ),
        viewer_a: create_token(s, json!({"name": "viewer-a", "role": "viewer", "app": "a"})),
        owner_b: create_token(s, json!({"name": "owner-b", "role": "owner", "app": "b"})),
        expired: create_token(
            s,
            json!({"name": "old", "role": "admin", "expires": "2020-01-01T00:00:00Z"}),
        ),
    };
    (tokens, ids[0].clone(), ids[1].clone())
}

/// One endpoint call: method, path, body, and a set-up run (as admin)
/// before every call so that destructive calls find their object.
type PathFn = Box<dyn Fn(&Server) -> String>;
type SetupFn = Box<dyn Fn(&Server)>;

struct Case {
    method: &'static str,
    path: String,
    /// A path made by the set-up (objects created per call, e.g. tokens).
    dynamic: Option<PathFn>,
    body: Option<(&'static str, Vec<u8>)>,
    needs: Needs,
    setup: Option<SetupFn>,
}

fn case(method: &'static str, path: impl Into<String>, needs: Needs) -> Case {
    Case {
        method,
        path: path.into(),
        dynamic: None,
        body: None,
        needs,
        setup: None,
    }
}

impl Case {
    fn json(mut self, v: Value) -> Self {
        self.body = Some(("application/json", v.to_string().into_bytes()));
        self
    }
    fn setup(mut self, f: impl Fn(&Server) + 'static) -> Self {
        self.setup = Some(Box::new(f));
        self
    }
}

fn cases(dev_deploy: &str, prod_deploy: &str) -> Vec<Case> {
    use Needs::*;
    let definition = json!({
        "type": "redis", "driver_type": "podium/echo",
        "driver_inputs": {"values": {"host": "r"}, "secrets": {"password": "p"}},
        "criteria": [{"env_type": "development", "app_id": "a"}]
    });
    vec![
        case("GET", "/api/v1/env-types", AnyToken),
        case("GET", "/api/v1/env-types/development", AnyToken),
        case("PUT", "/api/v1/env-types/staging", Admin).json(json!({})),
        case("DELETE", "/api/v1/env-types/tmp", Admin)
            .setup(|s| assert_eq!(s.put_json("/api/v1/env-types/tmp", &json!({})).0, 200)),
        case("GET", "/api/v1/apps", AnyToken),
        case("PUT", "/api/v1/apps/c", Admin).json(json!({})),
        case("GET", "/api/v1/apps/a", ViewA),
        case("DELETE", "/api/v1/apps/tmp", Admin)
            .setup(|s| assert_eq!(s.put_json("/api/v1/apps/tmp", &json!({})).0, 200)),
        case("GET", "/api/v1/apps/a/envs", ViewA),
        case("PUT", "/api/v1/apps/a/envs/qa", ManageA).json(json!({"type": "development"})),
        case("GET", "/api/v1/apps/a/envs/dev", ViewA),
        case("DELETE", "/api/v1/apps/a/envs/tmp", ManageA).setup(|s| {
            let (st, v) = s.put_json("/api/v1/apps/a/envs/tmp", &json!({"type": "development"}));
            assert_eq!(st, 200, "{v}");
        }),
        case("GET", "/api/v1/resource-definitions", AnyToken),
        case("GET", "/api/v1/resource-definitions/dev-workload", AnyToken),
        case(
            "GET",
            "/api/v1/resource-definitions/dev-workload/versions",
            AnyToken,
        ),
        case("PUT", "/api/v1/resource-definitions/redis-a", Admin).json(definition.clone()),
        case("DELETE", "/api/v1/resource-definitions/tmp", Admin).setup(move |s| {
            let mut d = definition.clone();
            d["criteria"] = json!([{"env_type": "development", "app_id": "tmp"}]);
            let (st, v) = s.put_json("/api/v1/resource-definitions/tmp", &d);
            assert!(st == 200 || st == 201, "{v}");
        }),
        case(
            "GET",
            "/api/v1/apps/a/envs/dev/explain?type=postgres&res_id=shared.db",
            ViewA,
        ),
        case("GET", "/api/v1/resource-types", AnyToken),
        case("GET", "/api/v1/resource-types/postgres", AnyToken),
        case("PUT", "/api/v1/resource-types/matrix", Admin)
            .json(json!({"outputs": {"values": ["host"], "secrets": ["password"]}})),
        case("GET", "/api/v1/workload-profiles", AnyToken),
        case("PUT", "/api/v1/workload-profiles/small", Admin).json(json!({"replicas": 1})),
        case("GET", "/api/v1/apps/a/values", ViewA),
        case("PUT", "/api/v1/apps/a/values/LOG_LEVEL", ManageA).json(json!({"value": "debug"})),
        case("DELETE", "/api/v1/apps/a/values/TMP", ManageA).setup(|s| {
            let (st, v) = s.put_json("/api/v1/apps/a/values/TMP", &json!({"value": "x"}));
            assert_eq!(st, 200, "{v}");
        }),
        case("POST", "/api/v1/apps/a/envs/dev/deploys", DeployADev).json(deploy_body()),
        case("POST", "/api/v1/apps/a/envs/prod/deploys", DeployAProd).json(deploy_body()),
        Case {
            body: Some(("application/yaml", SCORE.as_bytes().to_vec())),
            ..case("POST", "/api/v1/apps/b/envs/dev/deploys", DeployB)
        },
        case("GET", "/api/v1/apps/a/envs/dev/deploys", ViewA),
        case(
            "GET",
            format!("/api/v1/apps/a/envs/dev/deploys/{dev_deploy}"),
            ViewA,
        ),
        case("GET", format!("/api/v1/deploys/{dev_deploy}"), ViewA),
        case(
            "GET",
            format!("/api/v1/apps/a/envs/dev/deploys/{dev_deploy}/events"),
            ViewA,
        ),
        case("POST", "/api/v1/apps/a/envs/dev/plan", PlanA).json(deploy_body()),
        case("POST", "/api/v1/apps/a/envs/dev/rollback", DeployADev)
            .json(json!({"deploy_id": dev_deploy})),
        case("POST", "/api/v1/apps/a/envs/prod/rollback", DeployAProd)
            .json(json!({"deploy_id": prod_deploy})),
        case(
            "GET",
            format!("/api/v1/apps/a/envs/dev/diff?from={dev_deploy}"),
            ViewA,
        ),
        case("GET", "/api/v1/apps/a/envs/dev/resources", ViewA),
        case("GET", "/api/v1/apps/a/envs/dev/graph", ViewA),
        case("GET", "/api/v1/drivers", AnyToken),
        Case {
            body: Some((
                "application/wasm",
                podium_builtins::get("podium/echo")
                    .unwrap()
                    .component
                    .to_vec(),
            )),
            ..case("POST", "/api/v1/drivers?id=matrix/echo", Admin)
        },
        case("GET", "/api/v1/whoami", AnyToken),
        case("GET", "/api/v1/tokens", AnyToken),
        case("POST", "/api/v1/tokens", IssueForA).json(json!({
            "name": "ci-a-2", "role": "deployer", "app": "a", "env_types": ["development"]
        })),
        Case {
            dynamic: Some(Box::new(|s: &Server| {
                let (st, v) = s.post_json(
                    "/api/v1/tokens",
                    &json!({"name": "to-revoke", "role": "viewer", "app": "a"}),
                );
                assert_eq!(st, 201, "{v}");
                format!("/api/v1/tokens/{}", v["id"].as_str().unwrap())
            })),
            ..case("DELETE", "/api/v1/tokens/{id}", ManageA)
        },
        case("GET", "/api/v1/audit", Admin),
        case("POST", "/api/v1/admin/rotate-key", Admin).json(json!({})),
    ]
}

#[test]
fn every_role_gets_exactly_the_expected_status_on_every_endpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    let (tokens, dev_deploy, prod_deploy) = platform(&s);

    // Every route of the OpenAPI document is in the matrix.
    let (st, doc) = s.get_as(None, "/api/v1/openapi.json");
    assert_eq!(st, 200, "the OpenAPI document is public");
    let cases = cases(&dev_deploy, &prod_deploy);
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            let covered = cases.iter().any(|c| {
                c.method == m && {
                    let p = c.path.split('?').next().unwrap();
                    let (a, b): (Vec<_>, Vec<_>) =
                        (p.split('/').collect(), path.split('/').collect());
                    a.len() == b.len()
                        && a.iter().zip(&b).all(|(x, y)| x == y || y.starts_with('{'))
                }
            });
            assert!(covered, "{m} {path} is not in the matrix");
        }
    }

    let mut failures = Vec::new();
    for c in &cases {
        for who in EVERYONE {
            if let Some(setup) = &c.setup {
                setup(&s);
            }
            let token = tokens.of(who);
            let (ct, body) = c.body.clone().unwrap_or(("application/json", Vec::new()));
            let path = match &c.dynamic {
                Some(f) => f(&s),
                None => c.path.clone(),
            };
            let (status, _, v) = s.send_as(token.as_deref(), c.method, &path, ct, &body);
            let want = expect(who, c.needs);
            let ok = if want == 2 {
                (200..300).contains(&status)
            } else {
                status == want
            };
            if !ok {
                failures.push(format!(
                    "{:?} {} {}: got {status}, want {}: {v}",
                    who,
                    c.method,
                    c.path,
                    if want == 2 {
                        "2xx".to_owned()
                    } else {
                        want.to_string()
                    }
                ));
            }
            if status == 403 {
                let detail = v["detail"].as_str().unwrap_or("");
                assert!(detail.contains("permission"), "{who:?} {}: {v}", c.path);
            }
            if status == 401 {
                assert_eq!(v["status"], 401, "{v}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The public endpoints stay public.
    assert_eq!(s.get_as(None, "/healthz").0, 200);
    assert_eq!(s.get_as(None, "/readyz").0, 200);
}

#[test]
fn a_ci_token_deploys_its_app_to_development_only_and_403s_name_the_permission() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    let (tokens, _, _) = platform(&s);
    let dir = tmp.path();
    let score = file(dir, "score.yaml", SCORE);

    // Through the CLI, as a pipeline would.
    let ok = s.cli_as(
        Some(&tokens.ci_a),
        &[
            "deploy", "-f", &score, "--app", "a", "--env", "dev", "--wait",
        ],
    );
    assert!(ok.status.success(), "{}{}", stdout(&ok), stderr(&ok));
    let d = s.get("/api/v1/apps/a/envs/dev/deploys");
    let by_ci =
        d.1.as_array()
            .unwrap()
            .iter()
            .filter(|d| d["created_by"].as_str().unwrap().contains("(ci-a)"))
            .count();
    assert_eq!(by_ci, 1, "deployments record the token: {}", d.1);

    let prod = s.cli_as(
        Some(&tokens.ci_a),
        &[
            "deploy", "-f", &score, "--app", "a", "--env", "prod", "--wait",
        ],
    );
    assert_eq!(prod.status.code(), Some(1));
    assert!(
        stderr(&prod).contains("deploy:a/production") && stderr(&prod).contains("[development]"),
        "{}",
        stderr(&prod)
    );
    let other = s.cli_as(
        Some(&tokens.ci_a),
        &[
            "deploy", "-f", &score, "--app", "b", "--env", "dev", "--wait",
        ],
    );
    assert_eq!(other.status.code(), Some(1));
    assert!(stderr(&other).contains("view:b"), "{}", stderr(&other));

    // No token at all: a 401 that says how to send one.
    let none = s.cli_as(None, &["get", "apps"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("Bearer"), "{}", stderr(&none));

    // The CI token sees only its app.
    let (st, apps) = s.get_as(Some(&tokens.ci_a), "/api/v1/apps");
    assert_eq!(st, 200);
    let ids: Vec<&str> = apps
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a"]);
}

#[test]
fn owners_issue_narrower_tokens_and_revoked_or_expired_tokens_stop_working() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    let (tokens, _, _) = platform(&s);

    // An owner cannot mint an admin token nor one for another app.
    for body in [
        json!({"name": "x", "role": "admin"}),
        json!({"name": "x", "role": "owner", "app": "b"}),
    ] {
        let (st, _, v) = s.send_as(
            Some(&tokens.owner_a),
            "POST",
            "/api/v1/tokens",
            "application/json",
            body.to_string().as_bytes(),
        );
        assert_eq!(st, 403, "{v}");
    }
    // A CLI-created token works until it is revoked.
    let out = s.cli_as(
        Some(&tokens.owner_a),
        &[
            "tokens", "create", "--name", "viewer-2", "--role", "viewer", "--app", "a",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    assert!(token.starts_with("pdm_"), "{token}");
    assert_eq!(s.get_as(Some(&token), "/api/v1/apps/a").0, 200);
    let id = token.split('_').nth(1).unwrap();
    let out = s.cli_as(Some(&tokens.owner_a), &["tokens", "revoke", id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(s.get_as(Some(&token), "/api/v1/apps/a").0, 401);
    // Expired tokens: 401 naming the expiry.
    let (st, v) = s.get_as(Some(&tokens.expired), "/api/v1/whoami");
    assert_eq!(st, 401);
    assert!(v["detail"].as_str().unwrap().contains("expired"), "{v}");

    // Tokens are stored as hashes only: the secret is nowhere in the data.
    let secret = token.rsplit('_').next().unwrap().to_owned();
    let admin_secret = s.token.rsplit('_').next().unwrap().to_owned();
    let mut s = s;
    s.stop();
    for f in walk(&s.data.join("state")) {
        let bytes = std::fs::read(&f).unwrap();
        for needle in [&secret, &admin_secret] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "a token secret is in {}",
                f.display()
            );
        }
    }
    // The admin token file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.data.join("admin-token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn the_audit_log_has_every_write_with_who_and_outcome() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    let (tokens, _, _) = platform(&s);
    let (st, _, _) = s.send_as(
        Some(&tokens.viewer_a),
        "PUT",
        "/api/v1/apps/a/values/X",
        "application/json",
        br#"{"value": "1"}"#,
    );
    assert_eq!(st, 403);
    let (st, _, _) = s.send_as(None, "DELETE", "/api/v1/apps/a", "application/json", b"");
    assert_eq!(st, 401);
    let (st, _) = s.put_json("/api/v1/apps/a/values/X", &json!({"value": "1"}));
    assert_eq!(st, 200);

    let out = s.cli(&["admin", "audit", "-o", "json", "--limit", "1000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let entries: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let entries = entries.as_array().unwrap();
    let find = |method: &str, path: &str, outcome: &str| {
        entries
            .iter()
            .find(|e| e["method"] == method && e["path"] == path && e["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no {method} {path} {outcome} in {entries:#?}"))
            .clone()
    };
    let denied = find("PUT", "/api/v1/apps/a/values/X", "denied");
    assert!(
        denied["actor"].as_str().unwrap().contains("(viewer-a)"),
        "{denied}"
    );
    assert_eq!(denied["status"], 403);
    let anon = find("DELETE", "/api/v1/apps/a", "denied");
    assert_eq!(anon["actor"], "anonymous");
    let ok = find("PUT", "/api/v1/apps/a/values/X", "ok");
    assert!(
        ok["actor"].as_str().unwrap().contains("(bootstrap-admin)"),
        "{ok}"
    );
    // Deploys and token creations are there too; reads are not.
    find("POST", "/api/v1/apps/a/envs/dev/deploys", "ok");
    find("POST", "/api/v1/tokens", "ok");
    assert!(entries.iter().all(|e| e["method"] != "GET"));
    // Increasing sequence numbers, paging with `after`.
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let (st, page) = s.get(&format!("/api/v1/audit?after={}&limit=2", seqs[1]));
    assert_eq!(st, 200);
    assert_eq!(page["entries"][0]["seq"].as_u64(), Some(seqs[2]));
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    // Non-admins cannot read it.
    assert_eq!(s.get_as(Some(&tokens.owner_a), "/api/v1/audit").0, 403);
}
