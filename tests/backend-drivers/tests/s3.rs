//! `podium/s3` in the real sandbox against s3s-fs on loopback
//! (`scripts/backends/s3.sh`), which checks every request's SigV4
//! signature, verified from outside with boto3 (`s3_check.py`).
#![allow(clippy::unwrap_used)]

use podium_backend_driver_tests::{
    Backend, Resource, assert_no_secret, backend, context, root, run, secret, value,
};
use podium_runtime::{Outputs, PlanAction};
use serde_json::{Value, json};
use tokio::sync::RwLock;

/// Tests take it shared; the one that stops the server takes it alone.
static SERVER: RwLock<()> = RwLock::const_new(());

fn s3() -> &'static Backend {
    backend("s3")
}

fn resource(env: &str, values: Value) -> Resource {
    let s3 = s3();
    let mut v = json!({
        "endpoint": s3.var("PODIUM_S3_ENDPOINT"),
        "region": s3.var("PODIUM_S3_REGION"),
    });
    if let (Value::Object(v), Value::Object(extra)) = (&mut v, values) {
        v.extend(extra);
    }
    Resource::new(
        "podium/s3",
        context(env, "s3", "modules.api.externals.files"),
        v,
        json!({
            "access_key_id": s3.var("PODIUM_S3_ACCESS_KEY_ID"),
            "secret_key": s3.var("PODIUM_S3_SECRET_KEY"),
        }),
    )
    .grant(s3.var("PODIUM_S3_GRANT"))
}

/// boto3 with the credentials a workload would get: the output secrets.
fn boto(out: &Outputs, args: &[&str]) -> Result<String, String> {
    let s3 = s3();
    let script = root().join("tests/backend-drivers/s3_check.py");
    let mut argv = vec![
        script.to_str().unwrap(),
        value(out, "endpoint"),
        value(out, "region"),
        value(out, "bucket"),
    ];
    argv.extend(args);
    let output = run(
        s3.var("PODIUM_S3_PYTHON"),
        &argv,
        &[
            ("AWS_ACCESS_KEY_ID", secret(out, "aws_access_key_id")),
            (
                "AWS_SECRET_ACCESS_KEY",
                secret(out, "aws_secret_access_key"),
            ),
        ],
    );
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_use_reapply_and_delete() {
    let _shared = SERVER.read().await;
    let mut bucket = resource("life", json!({}));

    let (action, summary) = bucket.plan().await.unwrap();
    assert_eq!(action, PlanAction::Create, "{summary}");
    assert!(
        summary.contains("S3 at http://127.0.0.1:15001"),
        "{summary}"
    );
    let out = bucket.apply().await.unwrap();
    let name = value(&out, "bucket").to_owned();
    assert!(
        name.starts_with("bdt-life-api-files-") && name.len() <= 63,
        "{name}"
    );
    assert_eq!(value(&out, "endpoint"), s3().var("PODIUM_S3_ENDPOINT"));
    assert_eq!(value(&out, "region"), "us-east-1");
    assert_eq!(
        secret(&out, "access_key_id"),
        secret(&out, "aws_access_key_id")
    );
    assert_eq!(
        secret(&out, "secret_key"),
        secret(&out, "aws_secret_access_key")
    );

    // From outside, with the output credentials: write and read an object.
    boto(&out, &["put", "dir/hello.txt", "hello from podium"]).unwrap();
    assert_eq!(
        boto(&out, &["get", "dir/hello.txt"]).unwrap(),
        "hello from podium"
    );
    let created = boto(&out, &["created"]).unwrap();

    // Re-apply: unchanged plan, same bucket, same creation time, same object.
    let (action, _) = bucket.plan().await.unwrap();
    assert_eq!(action, PlanAction::Unchanged);
    let again = bucket.apply().await.unwrap();
    assert_eq!(again.values, out.values);
    assert_eq!(again.secrets, out.secrets);
    assert_eq!(boto(&out, &["created"]).unwrap(), created);
    assert_eq!(boto(&out, &["count"]).unwrap(), "1");

    // Lost state: the same bucket is adopted.
    bucket.state = None;
    let (action, summary) = bucket.plan().await.unwrap();
    assert_eq!(action, PlanAction::Unchanged);
    assert!(summary.contains("adopt existing bucket"), "{summary}");
    assert_eq!(bucket.apply().await.unwrap().values, out.values);

    // Delete an emptied bucket; then it is gone, and deleting again is fine.
    bucket.values["force_delete"] = json!(true);
    bucket.delete().await.unwrap();
    assert_eq!(boto(&out, &["exists"]).unwrap(), "no");
    bucket.delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_with_objects_is_kept_unless_force_delete() {
    let _shared = SERVER.read().await;
    let mut bucket = resource("full", json!({}));
    let out = bucket.apply().await.unwrap();
    for i in 0..3 {
        boto(&out, &["put", &format!("k{i} & <odd>.txt"), "x"]).unwrap();
    }

    let err = bucket.delete().await.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "conflict", "{}", err.message);
    assert!(
        err.message.contains("is not empty; it is kept"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("force_delete: true"),
        "{}",
        err.message
    );
    assert_eq!(boto(&out, &["count"]).unwrap(), "3");

    bucket.values["force_delete"] = json!(true);
    bucket.delete().await.unwrap();
    assert_eq!(boto(&out, &["exists"]).unwrap(), "no");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_bucket_is_deleted_without_force() {
    let _shared = SERVER.read().await;
    let mut bucket = resource("empty", json!({}));
    let out = bucket.apply().await.unwrap();
    assert_eq!(boto(&out, &["exists"]).unwrap(), "yes");
    bucket.delete().await.unwrap();
    assert_eq!(boto(&out, &["exists"]).unwrap(), "no");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_key_is_denied_without_leaking_it() {
    let _shared = SERVER.read().await;
    let wrong = "Wrong+S3/Secret-Key-0123456789abcdefghij";
    let mut bucket = resource("badkey", json!({}));
    bucket.secrets["secret_key"] = json!(wrong);
    for result in [
        bucket.plan().await.map(|_| ()),
        bucket.apply().await.map(|_| ()),
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.kind, "denied", "{}", err.message);
        assert!(
            err.message.contains("S3 at http://127.0.0.1:15001")
                && err.message.contains("403 SignatureDoesNotMatch"),
            "{}",
            err.message
        );
        assert_no_secret(&err, wrong);
    }
    // An unknown key id is refused too.
    bucket.secrets["access_key_id"] = json!("AKIAUNKNOWN000000000");
    let err = bucket.apply().await.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "denied", "{}", err.message);
    assert_no_secret(&err, wrong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_grant_the_endpoint_is_out_of_reach() {
    let _shared = SERVER.read().await;
    let mut bucket = resource("nogrant", json!({}));
    bucket.grants.clear();
    let err = bucket.apply().await.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "denied", "{}", err.message);
    assert!(
        err.message
            .contains("`http://127.0.0.1:15001` would allow it"),
        "{}",
        err.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_unavailable_and_the_next_apply_works() {
    let _alone = SERVER.write().await;
    let s3 = s3();
    let mut bucket = resource("down", json!({}));
    s3.stop();
    let result = bucket.apply().await;
    s3.start();
    let err = result.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "unavailable", "{}", err.message);
    assert!(
        err.message.contains("S3 at http://127.0.0.1:15001"),
        "{}",
        err.message
    );

    let out = bucket.apply().await.unwrap();
    assert_eq!(boto(&out, &["exists"]).unwrap(), "yes");
    bucket.delete().await.unwrap();
}
