//! End to end through the real binary: the HTTP API and the CLI against a
//! service with a temporary data directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const WEB: &str = r#"
apiVersion: score.dev/v1b1
metadata: {name: web}
containers:
  main:
    image: "."
    variables:
      DB_HOST: ${resources.db.host}
      DB_PASSWORD: ${resources.db.password}
      BUCKET: ${resources.files.bucket}
resources:
  db: {type: postgres}
  files: {type: s3, id: assets}
"#;

const WORKER: &str = r#"
apiVersion: score.dev/v1b1
metadata: {name: worker}
containers:
  main:
    image: "."
    variables:
      HOST: ${resources.name.host}
      BUCKET: ${resources.files.bucket}
resources:
  name: {type: dns}
  files: {type: s3, id: assets}
"#;

const SETUP: &str = r#"
apiVersion: podium.dev/v1
kind: Application
metadata: {id: shop}
---
apiVersion: podium.dev/v1
kind: Environment
metadata: {id: dev, app: shop}
spec: {type: development}
"#;

fn resources(s: &Server, app: &str, env: &str) -> Vec<Value> {
    let (st, v) = s.get(&format!("/api/v1/apps/{app}/envs/{env}/resources"));
    assert_eq!(st, 200, "{v}");
    v.as_array().unwrap().clone()
}

fn res_ids(list: &[Value]) -> BTreeSet<String> {
    list.iter()
        .map(|r| r["res_id"].as_str().unwrap().to_owned())
        .collect()
}

fn deploy_id(out: &std::process::Output) -> String {
    let text = stdout(out);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("deployment ")
                .and_then(|r| r.split_whitespace().next())
        })
        .unwrap_or_else(|| panic!("no deployment id in {text}"))
        .to_owned()
}

#[test]
fn deploy_redeploy_change_remove_rollback_diff_and_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    let setup = file(tmp.path(), "setup.yaml", SETUP);
    let web = file(tmp.path(), "web.yaml", WEB);
    let worker = file(tmp.path(), "worker.yaml", WORKER);

    // Declarative set-up; re-applying changes nothing.
    let o = s.cli(&["apply", "-f", &setup]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("app/shop created"), "{}", stdout(&o));
    let o = s.cli(&["apply", "-f", &setup]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("app/shop unchanged") && stdout(&o).contains("env/shop/dev unchanged"),
        "{}",
        stdout(&o)
    );

    // 1. Two workloads, a shared bucket and private resources.
    let o = s.cli(&[
        "deploy",
        "-f",
        &web,
        "-f",
        &worker,
        "--app",
        "shop",
        "--env",
        "dev",
        "--image",
        "reg/app:1",
        "--wait",
    ]);
    assert!(o.status.success(), "deploy: {}\n{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("✓"),
        "progress lines expected: {}",
        stdout(&o)
    );
    let first = deploy_id(&o);
    let active = resources(&s, "shop", "dev");
    let ids = res_ids(&active);
    for want in [
        "modules.web",
        "modules.worker",
        "modules.web.externals.db",
        "modules.worker.externals.name",
        "shared.assets",
        "k8s-cluster",
        "k8s-namespace",
    ] {
        assert!(ids.contains(want), "{want} missing from {ids:?}");
    }
    assert_eq!(active.len(), 7);
    // Secrets never in the API.
    let dump = serde_json::to_string(&active).unwrap();
    assert!(
        !dump.contains("dev-") || !dump.contains("password\":\"dev-"),
        "{dump}"
    );
    for r in &active {
        for (_, v) in r["secrets"].as_object().unwrap() {
            assert_eq!(v, "<redacted>");
        }
    }

    // 2. Redeploy, no change: every resource unchanged, no driver apply.
    let (st, d) = s.post_json("/api/v1/apps/shop/envs/dev/deploys?wait=true", &json!({}));
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["trigger"], "redeploy");
    for r in d["resources"].as_array().unwrap() {
        assert_eq!(r["action"], "unchanged", "{r}");
    }
    let (_, events) = s.get(&format!(
        "/api/v1/apps/shop/envs/dev/deploys/{}/events",
        d["id"].as_str().unwrap()
    ));
    assert!(
        !events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "ResourceApplied"),
        "{events}"
    );
    assert!(
        resources(&s, "shop", "dev")
            .iter()
            .all(|r| r["deploy_id"] == first.as_str())
    );

    // 3. A new image for web: web's workload updates, nothing else.
    let o = s.cli(&[
        "deploy",
        "-f",
        &web,
        "--app",
        "shop",
        "--env",
        "dev",
        "--image",
        "reg/app:2",
        "--wait",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let third = deploy_id(&o);
    let (_, d) = s.get(&format!("/api/v1/deploys/{third}"));
    for r in d["resources"].as_array().unwrap() {
        let expect = if r["res_id"] == "modules.web" {
            "update"
        } else {
            "unchanged"
        };
        assert_eq!(r["action"], expect, "{r}");
    }

    // 4. Remove worker: its private resources go, the shared bucket stays (web uses it).
    let (st, d) = s.post_json(
        "/api/v1/apps/shop/envs/dev/deploys?wait=true",
        &json!({"delta": {"modules": {"remove": ["worker"]}}, "comment": "drop worker"}),
    );
    assert_eq!(st, 200);
    assert_eq!(d["status"], "succeeded", "{d}");
    let removed = d["id"].as_str().unwrap().to_owned();
    let ids = res_ids(&resources(&s, "shop", "dev"));
    assert!(
        !ids.contains("modules.worker") && !ids.contains("modules.worker.externals.name"),
        "{ids:?}"
    );
    assert!(
        ids.contains("shared.assets") && ids.contains("modules.web.externals.db"),
        "{ids:?}"
    );

    // 5. Diff: from the first deployment to the removal.
    let o = s.cli(&["diff", "--app", "shop", "--env", "dev", &first, &removed]);
    assert!(o.status.success(), "{}", stderr(&o));
    let diff: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        diff["delta"]["modules"]["remove"],
        json!(["worker"]),
        "{diff}"
    );

    // 6. Roll back to the first deployment: worker is back.
    let o = s.cli(&[
        "rollback", "--app", "shop", "--env", "dev", &first, "--wait",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let ids = res_ids(&resources(&s, "shop", "dev"));
    assert!(ids.contains("modules.worker.externals.name"), "{ids:?}");
    let o = s.cli(&[
        "get", "deploys", "--app", "shop", "--env", "dev", "-o", "json",
    ]);
    let list: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert_eq!(list[0]["trigger"], "rollback");

    // 7. A failing driver: the deployment fails naming the resource; finished
    //    resources stay; a later deploy succeeds.
    hostile(&s, tmp.path());
    let job = |mode: &str| {
        format!(
            "apiVersion: score.dev/v1b1\nmetadata: {{name: job}}\ncontainers: {{main: {{image: busybox}}}}\nresources:\n  work: {{type: flaky, params: {{mode: {mode}, message: boom-on-demand}}}}\n  db: {{type: postgres}}\n"
        )
    };
    let failing = file(tmp.path(), "job-fail.yaml", &job("fail"));
    let o = s.cli(&[
        "deploy", "-f", &failing, "--app", "shop", "--env", "dev", "--wait",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("boom-on-demand"), "{}", stderr(&o));
    let failed_id = deploy_id(&o);
    let (_, d) = s.get(&format!("/api/v1/deploys/{failed_id}"));
    assert_eq!(d["status"], "failed");
    assert_eq!(
        d["error"]["resource"], "flaky.default#modules.job.externals.work",
        "{d}"
    );
    assert_eq!(d["error"]["driver"], "test/hostile", "{d}");
    assert!(
        d["error"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{d}"
    );
    assert_eq!(d["error"]["phase"], "create");
    let job_res = d["resources"].as_array().unwrap();
    let status_of = |id: &str| {
        job_res
            .iter()
            .find(|r| r["res_id"] == id)
            .map(|r| r["status"].clone())
    };
    assert_eq!(
        status_of("modules.job.externals.db"),
        Some(json!("succeeded"))
    );
    assert_eq!(status_of("modules.job"), Some(json!("skipped")));
    let ok = file(tmp.path(), "job-ok.yaml", &job("ok"));
    let o = s.cli(&[
        "deploy", "-f", &ok, "--app", "shop", "--env", "dev", "--wait",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));

    // Logs of a deployment through the CLI.
    let o = s.cli(&["logs", &failed_id]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("ResourceFailed"), "{}", stdout(&o));
}

#[test]
fn quick_start_hello_and_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    let setup = file(
        tmp.path(),
        "setup.yaml",
        "apiVersion: podium.dev/v1\nkind: Application\nmetadata: {id: hello}\n---\napiVersion: podium.dev/v1\nkind: Environment\nmetadata: {id: dev, app: hello}\nspec: {type: development}\n",
    );
    assert!(s.cli(&["apply", "-f", &setup]).status.success());
    // Every kind of declarative document; re-applying changes nothing.
    let more = file(
        tmp.path(),
        "more.yaml",
        r#"
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: redis-dev}
spec:
  type: redis
  driver_type: podium/echo
  driver_inputs:
    values: {host: "redis.${context.env.id}.svc", port: 6379}
    secrets: {password: "${values.REDIS_PASSWORD}"}
  criteria: [{env_type: development}]
---
apiVersion: podium.dev/v1
kind: Values
metadata: {app: hello}
spec:
  REDIS_PASSWORD: {value: s3cr3t-redis-pw, secret: true}
  LOG_LEVEL: debug
---
apiVersion: podium.dev/v1
kind: WorkloadProfile
metadata: {id: small}
spec: {replicas: 2}
"#,
    );
    let o = s.cli(&["apply", "-f", &more]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("definition/redis-dev configured (version 1)"),
        "{}",
        stdout(&o)
    );
    let o = s.cli(&["apply", "-f", &more]);
    assert!(
        stdout(&o).contains("definition/redis-dev unchanged"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("profile/small unchanged"),
        "{}",
        stdout(&o)
    );
    let (_, values) = s.get("/api/v1/apps/hello/values");
    assert_eq!(
        values["app"]["REDIS_PASSWORD"]["value"], "<redacted>",
        "{values}"
    );
    assert_eq!(values["app"]["LOG_LEVEL"]["value"], "debug", "{values}");
    let o = s.cli(&["get", "defs", "-o", "yaml"]);
    assert!(stdout(&o).contains("redis-dev"), "{}", stdout(&o));
    let (st, explain) =
        s.get("/api/v1/apps/hello/envs/dev/explain?type=redis&res_id=modules.x.externals.cache");
    assert_eq!(st, 200, "{explain}");
    assert!(explain.to_string().contains("redis-dev"), "{explain}");
    let hello = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/hello/score.yaml"
    );
    let o = s.cli(&[
        "plan", "-f", hello, "--app", "hello", "--env", "dev", "--image", "nginx:1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("4 to create"), "{}", stdout(&o));
    let o = s.cli(&[
        "deploy", "-f", hello, "--app", "hello", "--env", "dev", "--image", "nginx:1", "--wait",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let o = s.cli(&[
        "plan", "-f", hello, "--app", "hello", "--env", "dev", "--image", "nginx:1",
    ]);
    assert!(
        stdout(&o).contains("0 to create, 0 to update, 4 unchanged"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_input_gets_problem_documents_never_5xx() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "shop", "dev");
    let deploys = "/api/v1/apps/shop/envs/dev/deploys";
    let check = |(status, ct, body): (u16, String, Value), want: u16, needle: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!(ct, "application/problem+json", "{body}");
        assert!(
            body.to_string().contains(needle),
            "{needle:?} not in {body}"
        );
    };
    // Invalid Score: names the field.
    check(
        s.send(
            "POST",
            &format!("{deploys}?image=x"),
            "application/yaml",
            b"apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers: {main: {imag: x}}\n",
        ),
        422,
        "image",
    );
    // Unknown app.
    check(
        s.send(
            "POST",
            "/api/v1/apps/nope/envs/dev/deploys",
            "application/json",
            b"{}",
        ),
        404,
        "nope",
    );
    // Malformed JSON: line and column.
    check(
        s.send("POST", deploys, "application/json", b"{\"workloads\": [}"),
        400,
        "line 1",
    );
    // Unknown field.
    check(
        s.send("POST", deploys, "application/json", b"{\"workload\": []}"),
        422,
        "workload",
    );
    // Oversized body.
    check(s.announce(deploys, 5 << 20), 413, "limit");
    // Bad ids.
    check(
        s.send("PUT", "/api/v1/apps/Bad_Id", "application/json", b"{}"),
        422,
        "valid app id",
    );
    // Definitions whose criteria tie.
    let def = json!({"type": "redis", "driver_type": "podium/echo", "criteria": [{"env_type": "development"}]});
    assert_eq!(
        s.put_json("/api/v1/resource-definitions/redis-a", &def).0,
        201
    );
    check(
        s.send(
            "PUT",
            "/api/v1/resource-definitions/redis-b",
            "application/json",
            def.to_string().as_bytes(),
        ),
        422,
        "redis-a",
    );
    // Unknown routes and methods.
    check(
        s.send("POST", "/api/v1/nothing", "application/json", b"{}"),
        404,
        "nothing",
    );
    check(
        s.send("PUT", deploys, "application/json", b"{}"),
        405,
        "PUT",
    );
    // A missing image for a "." container.
    check(
        s.send(
            "POST",
            deploys,
            "application/yaml",
            b"apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers: {main: {image: .}}\n",
        ),
        422,
        "main",
    );
    // The OpenAPI document is served.
    let (st, doc) = s.get("/api/v1/openapi.json");
    assert_eq!(st, 200);
    assert!(
        doc["paths"]["/api/v1/apps/{app}/envs/{env}/deploys"]["post"].is_object(),
        "{doc}"
    );
}

#[test]
fn one_env_runs_in_order_and_envs_run_in_parallel() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    hostile(&s, tmp.path());
    app_env(&s, "shop", "dev");
    let w = |name: &str, ms: u64| {
        json!({"apiVersion": "score.dev/v1b1", "metadata": {"name": name},
        "containers": {"main": {"image": "busybox"}},
        "resources": {"slow": {"type": "flaky", "params": {"mode": "sleep", "ms": ms}}}})
    };

    // 20 at once to one env: all run, one at a time, in arrival order.
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let s = &s;
                let body = json!({"workloads": [w(&format!("w{i}"), 20)]});
                scope.spawn(move || {
                    let (st, v) = s.post_json("/api/v1/apps/shop/envs/dev/deploys", &body);
                    assert_eq!(st, 202, "{v}");
                    v["id"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut done: Vec<Value> = ids.iter().map(|id| s.wait(id)).collect();
    done.sort_by_key(|d| d["seq"].as_u64().unwrap());
    for d in &done {
        assert_eq!(d["status"], "succeeded", "{d}");
    }
    for pair in done.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let fa: jiff::Timestamp = a["finished_at"].as_str().unwrap().parse().unwrap();
        let sb: jiff::Timestamp = b["started_at"].as_str().unwrap().parse().unwrap();
        assert!(fa <= sb, "{} finished after {} started", a["id"], b["id"]);
    }
    // None lost: the env's set has all 20 workloads.
    let ids = res_ids(&resources(&s, "shop", "dev"));
    for i in 0..20 {
        assert!(ids.contains(&format!("modules.w{i}")), "w{i} missing");
    }

    // 20 envs at once: they run in parallel (measured as the largest number
    // of deployments running at the same moment).
    for i in 0..20 {
        app_env(&s, "shop", &format!("e{i}"));
    }
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let s = &s;
                let body = json!({"workloads": [w("web", 1000)]});
                scope.spawn(move || {
                    let (st, v) =
                        s.post_json(&format!("/api/v1/apps/shop/envs/e{i}/deploys"), &body);
                    assert_eq!(st, 202, "{v}");
                    v["id"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let done: Vec<Value> = ids.iter().map(|id| s.wait(id)).collect();
    assert!(done.iter().all(|d| d["status"] == "succeeded"));
    let ts = |d: &Value, k: &str| -> jiff::Timestamp { d[k].as_str().unwrap().parse().unwrap() };
    let mut edges: Vec<(jiff::Timestamp, i32)> = done
        .iter()
        .flat_map(|d| [(ts(d, "started_at"), 1), (ts(d, "finished_at"), -1)])
        .collect();
    edges.sort();
    let (mut running, mut most) = (0, 0);
    for (_, delta) in edges {
        running += delta;
        most = most.max(running);
    }
    assert!(most >= 10, "at most {most} environments deployed at once");
}

#[test]
fn killed_during_a_deployment_restarts_and_marks_it_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&data);
    hostile(&s, tmp.path());
    app_env(&s, "shop", "dev");
    let w = |ms: u64| {
        json!({"workloads": [{"apiVersion": "score.dev/v1b1", "metadata": {"name": "web"},
        "containers": {"main": {"image": "busybox"}},
        "resources": {"slow": {"type": "flaky", "params": {"mode": "sleep", "ms": ms}}}}]})
    };
    let (_, first) = s.post_json("/api/v1/apps/shop/envs/dev/deploys?wait=true", &w(1));
    assert_eq!(first["status"], "succeeded", "{first}");
    let (st, v) = s.post_json("/api/v1/apps/shop/envs/dev/deploys", &w(20_000));
    assert_eq!(st, 202);
    let id = v["id"].as_str().unwrap().to_owned();
    // Wait until the slow resource runs, then SIGKILL.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, d) = s.get(&format!("/api/v1/deploys/{id}"));
        if d["resources"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["status"] == "running"))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never running: {d}");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.kill();
    let s = Server::start(&data);
    let (_, d) = s.get(&format!("/api/v1/deploys/{id}"));
    assert_eq!(d["status"], "failed", "{d}");
    assert!(
        d["error"]["message"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{d}"
    );
    let (_, events) = s.get(&format!("/api/v1/apps/shop/envs/dev/deploys/{id}/events"));
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "DeploymentInterrupted")
    );
    let (_, again) = s.get(&format!(
        "/api/v1/deploys/{}",
        first["id"].as_str().unwrap()
    ));
    assert_eq!(again, {
        let mut f = first.clone();
        f.as_object_mut().unwrap().remove("url");
        f["url"] = again["url"].clone();
        f
    });
    let (_, next) = s.post_json("/api/v1/apps/shop/envs/dev/deploys?wait=true", &w(1));
    assert_eq!(next["status"], "succeeded", "{next}");
}
