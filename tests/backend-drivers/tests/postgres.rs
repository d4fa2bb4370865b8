//! `podium/postgres` in the real sandbox against PostgreSQL 15 on loopback
//! (`scripts/backends/postgres.sh`), checked from outside with `psql`.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use podium_backend_driver_tests::{
    Backend, Resource, assert_no_secret, backend, context, run, secret, value,
};
use podium_runtime::PlanAction;
use serde_json::{Value, json};
use tokio::sync::RwLock;

/// Tests take it shared; the one that stops the server takes it alone.
static SERVER: RwLock<()> = RwLock::const_new(());

fn pg() -> &'static Backend {
    backend("postgres")
}

fn grant() -> String {
    pg().var("PODIUM_PG_GRANT").to_owned()
}

fn resource(env: &str, values: Value) -> Resource {
    let pg = pg();
    let mut v = json!({
        "host": pg.var("PODIUM_PG_HOST"),
        "port": pg.var("PODIUM_PG_PORT").parse::<u16>().unwrap(),
        "admin_user": pg.var("PODIUM_PG_ADMIN_USER"),
    });
    if let (Value::Object(v), Value::Object(extra)) = (&mut v, values) {
        v.extend(extra);
    }
    Resource::new(
        "podium/postgres",
        context(env, "postgres", "modules.api.externals.db"),
        v,
        json!({"admin_password": pg.var("PODIUM_PG_ADMIN_PASSWORD")}),
    )
    .grant(&grant())
}

/// `psql` as `user` into `database`; Ok(stdout) or Err(stderr).
fn psql(user: &str, password: &str, database: &str, sql: &str) -> Result<String, String> {
    let pg = pg();
    let out = run(
        "psql",
        &[
            "-h",
            pg.var("PODIUM_PG_HOST"),
            "-p",
            pg.var("PODIUM_PG_PORT"),
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
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

fn admin(sql: &str) -> String {
    let pg = pg();
    psql(
        pg.var("PODIUM_PG_ADMIN_USER"),
        pg.var("PODIUM_PG_ADMIN_PASSWORD"),
        "postgres",
        sql,
    )
    .unwrap()
}

fn database_exists(name: &str) -> bool {
    admin(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
    )) == "1"
}

fn role_exists(name: &str) -> bool {
    admin(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname = '{name}'"
    )) == "1"
}

/// A session that stays connected to the database until killed.
fn open_session(user: &str, password: &str, database: &str) -> Child {
    let pg = pg();
    Command::new("psql")
        .args([
            "-h",
            pg.var("PODIUM_PG_HOST"),
            "-p",
            pg.var("PODIUM_PG_PORT"),
            "-U",
            user,
            "-d",
            database,
            "-w",
            "-Atc",
            "SELECT pg_sleep(60)",
        ])
        .env("PGPASSWORD", password)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_use_reapply_and_delete() {
    let _shared = SERVER.read().await;
    let mut db = resource("life", json!({}));

    let (action, summary) = db.plan().await.unwrap();
    assert_eq!(action, PlanAction::Create, "{summary}");
    assert!(summary.contains("PostgreSQL at 127.0.0.1:"), "{summary}");

    let out = db.apply().await.unwrap();
    let name = value(&out, "name").to_owned();
    let user = value(&out, "username").to_owned();
    let password = secret(&out, "password").to_owned();
    assert_eq!(value(&out, "database"), name);
    assert_eq!(value(&out, "host"), "127.0.0.1");
    assert_eq!(out.values["port"], json!(55432));
    assert!(
        name.starts_with("bdt_life_api_db_") && name.len() <= 63,
        "{name}"
    );
    // wasi:random works in the sandbox: 32 letters and digits.
    assert_eq!(password.len(), 32);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(!out.values.values().any(|v| v == &json!(password)));

    // From outside: log in with the outputs, create and use a table.
    let got = psql(
        &user,
        &password,
        &name,
        "CREATE TABLE t (id int); INSERT INTO t VALUES (42); SELECT id FROM t",
    )
    .unwrap();
    assert_eq!(got, "42");
    // Only its owner may connect: the admin made the database private.
    assert_eq!(
        admin(&format!(
            "SELECT has_database_privilege('pg_monitor', '{name}', 'CONNECT')"
        )),
        "f"
    );

    // Re-apply: unchanged plan, same outputs, same password.
    let (action, _) = db.plan().await.unwrap();
    assert_eq!(action, PlanAction::Unchanged);
    let again = db.apply().await.unwrap();
    assert_eq!(again.values, out.values);
    assert_eq!(again.secrets, out.secrets);
    assert_eq!(
        psql(&user, &password, &name, "SELECT count(*) FROM t").unwrap(),
        "1"
    );

    // Delete with a session still open: it is ended, both objects go.
    let mut session = open_session(&user, &password, &name);
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.delete().await.unwrap();
    let status = session.wait().unwrap();
    assert!(!status.success(), "the open session survived the delete");
    assert!(!database_exists(&name));
    assert!(!role_exists(&user));
    let err = psql(&user, &password, &name, "SELECT 1").unwrap_err();
    assert!(err.contains("password authentication failed"), "{err}");

    // Deleting what is gone succeeds.
    db.delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_changes_nothing() {
    let _shared = SERVER.read().await;
    let mut db = resource("plan", json!({}));
    let (action, summary) = db.plan().await.unwrap();
    assert_eq!(action, PlanAction::Create);
    assert!(
        summary.contains("create login role bdt_plan_api_db_"),
        "{summary}"
    );
    // No run of this test ever applies, so nothing may carry its prefix.
    for table in ["pg_database WHERE datname", "pg_roles WHERE rolname"] {
        let n = admin(&format!(
            "SELECT count(*) FROM {table} LIKE 'bdt_plan_api_db_%'"
        ));
        assert_eq!(n, "0", "plan created something in {table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_state_adopts_the_objects_with_a_new_password() {
    let _shared = SERVER.read().await;
    let mut db = resource("adopt", json!({}));
    let first = db.apply().await.unwrap();
    let name = value(&first, "name").to_owned();
    let old = secret(&first, "password").to_owned();
    psql(&name, &old, &name, "CREATE TABLE kept (x int)").unwrap();

    db.state = None;
    let (action, summary) = db.plan().await.unwrap();
    assert_eq!(action, PlanAction::Update);
    assert!(summary.contains("adopt existing role"), "{summary}");
    let second = db.apply().await.unwrap();
    assert_eq!(second.values, first.values);
    let new = secret(&second, "password");
    assert_ne!(new, old);
    assert!(psql(&name, &old, &name, "SELECT 1").is_err());
    // Same database, data kept.
    assert_eq!(
        psql(&name, new, &name, "SELECT count(*) FROM kept").unwrap(),
        "0"
    );
    db.delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_password_sets_a_new_one() {
    let _shared = SERVER.read().await;
    let mut db = resource("rotate", json!({}));
    let first = db.apply().await.unwrap();
    let name = value(&first, "name").to_owned();
    db.values["rotate_password"] = json!(true);
    let (action, summary) = db.plan().await.unwrap();
    assert_eq!(action, PlanAction::Update);
    assert!(summary.contains("rotate the password"), "{summary}");
    let second = db.apply().await.unwrap();
    let new = secret(&second, "password");
    assert_ne!(new, secret(&first, "password"));
    assert_eq!(psql(&name, new, &name, "SELECT 1").unwrap(), "1");
    db.delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_behind_our_back_is_recreated_with_the_same_password() {
    let _shared = SERVER.read().await;
    let mut db = resource("recreate", json!({}));
    let first = db.apply().await.unwrap();
    let name = value(&first, "name").to_owned();
    admin(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"));
    admin(&format!("DROP ROLE \"{name}\""));
    let (action, summary) = db.plan().await.unwrap();
    assert_eq!(action, PlanAction::Update, "{summary}");
    let second = db.apply().await.unwrap();
    assert_eq!(second.secrets, first.secrets);
    let password = secret(&second, "password");
    assert_eq!(psql(&name, password, &name, "SELECT 1").unwrap(), "1");
    db.delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_policy_keeps_database_and_role() {
    let _shared = SERVER.read().await;
    let mut db = resource("retain", json!({"deletion_policy": "retain"}));
    let out = db.apply().await.unwrap();
    let name = value(&out, "name").to_owned();
    let password = secret(&out, "password").to_owned();
    db.delete().await.unwrap();
    assert!(database_exists(&name) && role_exists(&name));
    assert_eq!(psql(&name, &password, &name, "SELECT 1").unwrap(), "1");
    // Clean up with the default policy.
    db.values["deletion_policy"] = json!("delete");
    db.delete().await.unwrap();
    assert!(!database_exists(&name) && !role_exists(&name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_admin_password_is_denied_without_leaking_it() {
    let _shared = SERVER.read().await;
    let wrong = "Wrong-Admin-Secret-9f3k";
    let mut db = resource("badpw", json!({}));
    db.secrets = json!({"admin_password": wrong});
    for result in [db.plan().await.map(|_| ()), db.apply().await.map(|_| ())] {
        let err = result.unwrap_err();
        assert_eq!(err.kind, "denied", "{}", err.message);
        assert!(
            err.message
                .contains("PostgreSQL at 127.0.0.1:55432: connect as podium_admin"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("password authentication failed"),
            "{}",
            err.message
        );
        assert_no_secret(&err, wrong);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_grant_the_server_is_out_of_reach() {
    let _shared = SERVER.read().await;
    let mut db = resource("nogrant", json!({}));
    db.grants.clear();
    let err = db.apply().await.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "denied", "{}", err.message);
    assert!(
        err.message
            .contains("the grant `postgres://127.0.0.1:55432` would allow it"),
        "{}",
        err.message
    );
    // A grant for another server does not do either.
    db.grants = vec!["postgres://127.0.0.1:5432".into()];
    assert_eq!(db.apply().await.unwrap_err().kind, "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_unavailable_and_the_next_apply_works() {
    let _alone = SERVER.write().await;
    let pg = pg();
    let mut db = resource("down", json!({}));
    pg.stop();
    let result = db.apply().await;
    pg.start();
    let err = result.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "unavailable", "{}", err.message);
    assert!(
        err.message.contains("PostgreSQL at 127.0.0.1:55432"),
        "{}",
        err.message
    );
    assert!(err.message.contains("for modules.api.externals.db"));

    let out = db.apply().await.unwrap();
    let name = value(&out, "name");
    assert_eq!(
        psql(name, secret(&out, "password"), name, "SELECT 1").unwrap(),
        "1"
    );
    db.delete().await.unwrap();
}
