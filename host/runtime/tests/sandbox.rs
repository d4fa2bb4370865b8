//! Sandbox tests: hostile components are stopped with the right error, and
//! the host serves the next call normally. Capabilities are denied unless
//! granted, and a granted name that resolves to a non-granted address is
//! denied too.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use podium_runtime::{
    CallError, CodeSource, Driver, DriverErrorKind, DriverRequest, Fault, Grants, Limits,
    Operation, Outcome, Runtime, RuntimeConfig,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(2);
const MEMORY: u64 = 64 << 20;

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    Runtime::new(RuntimeConfig {
        limits: Limits {
            deadline: DEADLINE,
            memory: MEMORY,
            ..Limits::default()
        },
        ..RuntimeConfig::default()
    })
    .unwrap()
});

static HOSTILE: LazyLock<Arc<Driver>> = LazyLock::new(|| {
    RUNTIME
        .load("podium-test/hostile", podium_test_harness::HOSTILE)
        .unwrap()
});

fn request(params: Value) -> DriverRequest {
    DriverRequest {
        params,
        driver_secrets: json!({"user": "test-user", "password": "s3cr3t-pa55word"}),
        context: podium_runtime::Context {
            app_id: "shop".into(),
            env_id: "dev".into(),
            res_id: "modules.api.externals.db".into(),
            res_type: "test".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn apply(params: Value, grants: &[&str]) -> Result<Outcome, CallError> {
    let grants = Grants::parse(grants).unwrap();
    RUNTIME
        .call(&HOSTILE, Operation::Apply, &request(params), &grants)
        .await
        .map(|r| r.result)
        .map_err(|r| r.result)
}

fn values(o: Outcome) -> serde_json::Map<String, Value> {
    match o {
        Outcome::Applied(o) => o.values,
        other => panic!("expected outputs, got {other:?}"),
    }
}

/// The host still works after whatever the previous call did.
async fn assert_next_call_works() {
    let out = values(apply(json!({"mode": "ok", "x": 1}), &[]).await.unwrap());
    assert_eq!(out["x"], json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_is_stopped_at_the_deadline() {
    let started = Instant::now();
    let err = apply(json!({"mode": "loop"}), &[]).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err.fault, Fault::DeadlineExceeded { .. }), "{err}");
    assert!(took < DEADLINE + Duration::from_secs(1), "took {took:?}");
    assert!(took >= DEADLINE, "stopped early: {took:?}");
    let msg = err.to_string();
    assert!(msg.contains("podium-test/hostile@sha256:"), "{msg}");
    assert!(msg.contains("apply for modules.api.externals.db"), "{msg}");
    assert_next_call_works().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_driver_does_not_starve_other_calls() {
    let spinning = tokio::spawn(apply(json!({"mode": "loop"}), &[]));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_next_call_works().await;
    // Relative, not a wall-clock bound (which a loaded machine breaks): the
    // other call finished while the spinning one still ran to its deadline.
    assert!(
        !spinning.is_finished(),
        "the other call waited for the spinning one to be stopped"
    );
    assert!(spinning.await.unwrap().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hog_hits_the_memory_cap() {
    let err = apply(json!({"mode": "memhog"}), &[]).await.unwrap_err();
    match &err.fault {
        Fault::MemoryLimit { requested, limit } => {
            assert_eq!(*limit, MEMORY);
            assert!(*requested > MEMORY);
        }
        other => panic!("expected a memory limit, got {other:?}"),
    }
    assert_eq!(err.kind_code(), "memory-limit");
    assert_next_call_works().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_is_a_trap_with_message_and_backtrace() {
    let err = apply(json!({"mode": "panic"}), &[]).await.unwrap_err();
    match &err.fault {
        Fault::Trap { message, backtrace } => {
            assert!(
                message.contains("hostile guest panicked on purpose"),
                "{message}"
            );
            // The name section is kept, so frames have function names.
            assert!(backtrace.contains("podium_guest_hostile"), "{backtrace}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_next_call_works().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_output_is_refused() {
    let err = apply(json!({"mode": "oversize", "size": 2 << 20}), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err.fault, Fault::OutputTooLarge { limit, size } if limit == 1 << 20 && size > 2 << 20),
        "{err}"
    );
    assert_next_call_works().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_errors_are_kept_apart_from_faults() {
    for (kind, want) in [
        ("invalid-input", DriverErrorKind::InvalidInput),
        ("denied", DriverErrorKind::Denied),
        ("unavailable", DriverErrorKind::Unavailable),
        ("conflict", DriverErrorKind::Conflict),
        ("failed", DriverErrorKind::Failed),
    ] {
        let err = apply(
            json!({"mode": "fail", "kind": kind, "message": "boom"}),
            &[],
        )
        .await
        .unwrap_err();
        match &err.fault {
            Fault::Driver { kind, message } => {
                assert_eq!(*kind, want);
                assert!(message.contains("boom"));
            }
            other => panic!("{other:?}"),
        }
        assert!(!err.fault.is_sandbox_fault());
    }
}

/// A one-shot HTTP server on loopback answering `hello` to every request.
async fn http_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
                    )
                    .await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_http_succeeds_and_ungranted_is_denied() {
    let port = http_server().await;
    let url = format!("http://127.0.0.1:{port}/ping");
    let grant = format!("http://127.0.0.1:{port}");

    let out = values(
        apply(json!({"mode": "http", "url": url}), &[&grant])
            .await
            .unwrap(),
    );
    assert_eq!(out["status"], json!(200));
    assert_eq!(out["body"], json!("hello"));

    let err = apply(json!({"mode": "http", "url": url}), &[])
        .await
        .unwrap_err();
    match &err.fault {
        Fault::Driver {
            kind: DriverErrorKind::Denied,
            message,
        } => assert!(
            message.contains(&format!("`{grant}` would allow it")),
            "{message}"
        ),
        other => panic!("expected denied, got {other:?}"),
    }

    // A grant for another port does not cover this one.
    let other = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    let err = apply(json!({"mode": "http", "url": url}), &[&other])
        .await
        .unwrap_err();
    assert_eq!(err.kind_code(), "denied");

    // A driver that reports the refusal vaguely keeps its own verdict, and
    // the host adds what it refused.
    let err = apply(json!({"mode": "http", "url": url, "swallow": true}), &[])
        .await
        .unwrap_err();
    match &err.fault {
        Fault::Driver {
            kind: DriverErrorKind::Failed,
            message,
        } => assert_eq!(
            message,
            &format!(
                "the request failed (the host denied a request of this call: no grant allows \
                 {grant}; the grant `{grant}` would allow it)"
            )
        ),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_name_resolving_to_ungranted_address_is_denied() {
    let port = http_server().await;
    let url = format!("http://localhost:{port}/");
    let grant = format!("http://localhost:{port}");
    let err = apply(json!({"mode": "http", "url": url}), &[&grant])
        .await
        .unwrap_err();
    match &err.fault {
        Fault::Driver {
            kind: DriverErrorKind::Denied,
            message,
        } => {
            assert!(message.contains("loopback"), "{message}");
            assert!(
                message.contains("net:127.0.0.1/32") || message.contains("net:::1/128"),
                "{message}"
            );
        }
        other => panic!("expected denied, got {other:?}"),
    }
    // Granting the network as well makes the same call work.
    let out = values(
        apply(
            json!({"mode": "http", "url": url}),
            &[&grant, "net:127.0.0.0/8", "net:::1/128"],
        )
        .await
        .unwrap(),
    );
    assert_eq!(out["status"], json!(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_may_not_mutate() {
    let port = http_server().await;
    let grant = format!("http://127.0.0.1:{port}");
    let req = request(
        json!({"mode": "http", "method": "POST", "url": format!("http://127.0.0.1:{port}/")}),
    );
    let err = RUNTIME
        .call(
            &HOSTILE,
            Operation::Plan,
            &req,
            &Grants::parse(&[&grant]).unwrap(),
        )
        .await
        .unwrap_err()
        .result;
    match &err.fault {
        Fault::Driver {
            kind: DriverErrorKind::Denied,
            message,
        } => {
            assert!(
                message.contains("`plan` may not change anything"),
                "{message}"
            )
        }
        other => panic!("expected denied, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_has_no_env_files_or_sockets() {
    let port = http_server().await;
    let out = values(
        apply(
            json!({"mode": "probe", "addr": format!("127.0.0.1:{port}")}),
            &[],
        )
        .await
        .unwrap(),
    );
    assert_eq!(out["env_count"], json!(0), "{out:?}");
    assert_eq!(out["args_count"], json!(0), "{out:?}");
    assert_ne!(out["fs_root"], json!(true), "{out:?}");
    assert_ne!(out["socket"], json!(true), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_masked_in_logs() {
    let grants = Grants::none();
    let report = RUNTIME
        .call(
            &HOSTILE,
            Operation::Apply,
            &request(json!({"mode": "log", "message": "hi"})),
            &grants,
        )
        .await
        .unwrap();
    let all = serde_json::to_string(&report.logs).unwrap();
    assert!(all.contains("hi"), "{all}");
    assert!(!all.contains("s3cr3t-pa55word"), "{all}");
    assert!(all.contains("<redacted>"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_round_trips_and_info_works() {
    let grants = Grants::none();
    let mut req = request(json!({"mode": "ok"}));
    req.state = Some(json!({"n": 41}));
    let out = RUNTIME
        .call(&HOSTILE, Operation::Apply, &req, &grants)
        .await
        .unwrap();
    match out.result {
        Outcome::Applied(o) => assert_eq!(o.state, Some(json!({"n": 42}))),
        other => panic!("{other:?}"),
    }
    let info = RUNTIME.info(&HOSTILE).await.unwrap();
    assert_eq!(info.name, "podium-test/hostile");
}

#[tokio::test]
async fn compiled_drivers_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let config = || RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    let echo = podium_builtins::get("podium/echo").unwrap().component;
    let first = Runtime::new(config()).unwrap();
    let d = first.load("podium/echo", echo).unwrap();
    assert_eq!(d.code_source, CodeSource::Compiled);
    drop(first);
    let second = Runtime::new(config()).unwrap();
    let d2 = second.load("podium/echo", echo).unwrap();
    assert_eq!(d2.code_source, CodeSource::Cache);
    assert_eq!(d.digest, d2.digest);
    // The cached driver runs.
    let info = second.info(&d2).await.unwrap();
    assert_eq!(info.name, "podium/echo");

    // A corrupted artifact is detected and recompiled, never loaded.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "cwasm") {
            let mut bytes = std::fs::read(&p).unwrap();
            let n = bytes.len() / 2;
            bytes[n] ^= 0xff;
            std::fs::write(&p, bytes).unwrap();
        }
    }
    let third = Runtime::new(config()).unwrap();
    let d3 = third.load("podium/echo", echo).unwrap();
    assert_eq!(d3.code_source, CodeSource::Compiled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_gets_a_fresh_instance() {
    // The pool reuses memory slots (resetting only the dirtied pages where
    // the kernel can tell): nothing of one call may be visible to the next.
    for _ in 0..5 {
        let out = values(apply(json!({"mode": "count"}), &[]).await.unwrap());
        assert_eq!(out["calls"], json!(1));
    }
}

#[test]
fn non_components_are_refused_with_a_clear_error() {
    let core_module = b"\0asm\x01\0\0\0";
    let e = RUNTIME.load("x", core_module).unwrap_err().to_string();
    assert!(e.contains("core WebAssembly module"), "{e}");
    let e = RUNTIME.load("y", b"hello world").unwrap_err().to_string();
    assert!(e.contains("not WebAssembly"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_targets_are_checked_like_http() {
    // No grant: denied before any connection is attempted.
    let params = json!({"mode": "sql", "url": "postgres://127.0.0.1:1/app"});
    let err = apply(params.clone(), &[]).await.unwrap_err();
    match &err.fault {
        Fault::Driver {
            kind: DriverErrorKind::Denied,
            message,
        } => assert!(
            message.contains("`postgres://127.0.0.1:1` would allow it"),
            "{message}"
        ),
        other => panic!("expected denied, got {other:?}"),
    }
    // A granted name resolving to a loopback address is denied too.
    let err = apply(
        json!({"mode": "sql", "url": "postgres://localhost:1/app"}),
        &["postgres://localhost:1"],
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind_code(), "denied", "{err}");
    // Granted, but nothing listens there: unavailable, naming the database.
    let err = apply(params, &["postgres://127.0.0.1:1"])
        .await
        .unwrap_err();
    match &err.fault {
        Fault::Driver {
            kind: DriverErrorKind::Unavailable,
            message,
        } => assert!(message.contains("postgres://127.0.0.1:1"), "{message}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    // The password never shows up in what the host reports.
    assert!(!err.to_string().contains("s3cr3t-pa55word"));
}

/// One `fs` operation of the hostile guest; its `result` value.
async fn fs(op: Operation, params: Value, grants: &[String]) -> Value {
    let grants = Grants::parse(grants).unwrap();
    let out = RUNTIME
        .call(&HOSTILE, op, &request(params), &grants)
        .await
        .map(|r| r.result)
        .map_err(|r| r.result.to_string());
    match out {
        Ok(Outcome::Applied(o)) => o.values["result"].clone(),
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_directory_is_the_only_one_the_driver_sees() {
    let root = tempfile::tempdir().unwrap();
    let granted = root.path().join("granted");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "host secret").unwrap();
    let dir = granted.display().to_string();
    // Created on first use by apply.
    let grant = vec![format!("file://{dir}")];
    let apply_fs = |params: Value| fs(Operation::Apply, params, &grant);

    let wrote = apply_fs(
        json!({"mode": "fs", "op": "write", "path": format!("{dir}/a.yaml"), "content": "x: 1"}),
    )
    .await;
    assert_eq!(wrote, json!(true));
    assert_eq!(
        std::fs::read_to_string(granted.join("a.yaml")).unwrap(),
        "x: 1"
    );
    let made =
        apply_fs(json!({"mode": "fs", "op": "mkdir", "path": format!("{dir}/shop/dev")})).await;
    assert_eq!(made, json!(true));
    assert!(granted.join("shop/dev").is_dir());
    let listed = apply_fs(json!({"mode": "fs", "op": "list", "path": dir})).await;
    assert_eq!(listed, json!(["a.yaml", "shop"]));

    // `..` out of the directory, absolute paths elsewhere, and a symlink
    // pointing out all fail; nothing outside is read or written.
    let escapes = [
        json!({"mode": "fs", "op": "write", "path": format!("{dir}/../escape.txt"), "content": "x"}),
        json!({"mode": "fs", "op": "write", "path": format!("{dir}/shop/../../escape.txt"), "content": "x"}),
        json!({"mode": "fs", "op": "read", "path": format!("{dir}/../outside/secret.txt")}),
        json!({"mode": "fs", "op": "read", "path": outside.join("secret.txt").display().to_string()}),
        json!({"mode": "fs", "op": "write", "path": "/tmp/podium-sandbox-escape.txt", "content": "x"}),
        json!({"mode": "fs", "op": "list", "path": "/"}),
    ];
    for params in escapes {
        let result = apply_fs(params.clone()).await;
        eprintln!("{params} -> {result}");
        assert!(result.is_string(), "{params}: {result}");
        assert_ne!(result, json!("host secret"), "{params}");
    }
    std::os::unix::fs::symlink(&outside, granted.join("link")).unwrap();
    let through_link =
        apply_fs(json!({"mode": "fs", "op": "read", "path": format!("{dir}/link/secret.txt")}))
            .await;
    assert!(
        through_link.is_string() && through_link != json!("host secret"),
        "{through_link}"
    );
    let write_link = apply_fs(
        json!({"mode": "fs", "op": "write", "path": format!("{dir}/link/new.txt"), "content": "x"}),
    )
    .await;
    assert!(write_link.is_string(), "{write_link}");
    assert!(!root.path().join("escape.txt").exists());
    assert!(!outside.join("new.txt").exists());
    assert!(!std::path::Path::new("/tmp/podium-sandbox-escape.txt").exists());

    // Without the grant the same directory is invisible.
    let ungranted = fs(
        Operation::Apply,
        json!({"mode": "fs", "op": "read", "path": format!("{dir}/a.yaml")}),
        &[],
    )
    .await;
    assert!(
        ungranted.is_string() && ungranted != json!("x: 1"),
        "{ungranted}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_sees_granted_directories_read_only() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().display().to_string();
    std::fs::write(root.path().join("a.yaml"), "x: 1").unwrap();
    let grants = Grants::parse(&[format!("file://{dir}")]).unwrap();
    let plan = |params: Value| {
        let grants = grants.clone();
        async move {
            match RUNTIME
                .call(&HOSTILE, Operation::Plan, &request(params), &grants)
                .await
                .map(|r| r.result)
            {
                Ok(Outcome::Plan { summary, .. }) => summary,
                other => panic!("{other:?}"),
            }
        }
    };
    let read = plan(json!({"mode": "fs", "op": "read", "path": format!("{dir}/a.yaml")})).await;
    assert_eq!(read, r#"hostile fs: "x: 1""#);
    let listed = plan(json!({"mode": "fs", "op": "list", "path": dir})).await;
    assert_eq!(listed, r#"hostile fs: ["a.yaml"]"#);
    for params in [
        json!({"mode": "fs", "op": "write", "path": format!("{dir}/b.yaml"), "content": "y"}),
        json!({"mode": "fs", "op": "write", "path": format!("{dir}/a.yaml"), "content": "changed"}),
        json!({"mode": "fs", "op": "remove", "path": format!("{dir}/a.yaml")}),
        json!({"mode": "fs", "op": "mkdir", "path": format!("{dir}/sub")}),
    ] {
        let answer = plan(params.clone()).await;
        assert!(answer.starts_with("hostile fs: \""), "{params}: {answer}");
    }
    assert!(!root.path().join("b.yaml").exists());
    assert!(!root.path().join("sub").exists());
    assert_eq!(
        std::fs::read_to_string(root.path().join("a.yaml")).unwrap(),
        "x: 1"
    );
    // A granted directory that does not exist yet is simply absent in plan
    // (and not created).
    let missing = root.path().join("later");
    let grants = Grants::parse(&[format!("file://{}", missing.display())]).unwrap();
    let r = RUNTIME
        .call(
            &HOSTILE,
            Operation::Plan,
            &request(json!({"mode": "fs", "op": "list", "path": missing.display().to_string()})),
            &grants,
        )
        .await;
    assert!(r.is_ok());
    assert!(!missing.exists());
}

/// A CA, a server certificate for 127.0.0.1 and a client identity, made
/// with the openssl command line in `dir`: (ca, server cert, server key,
/// client cert, client key), all PEM.
fn pki(dir: &std::path::Path) -> [String; 5] {
    let run = |args: &str| {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("openssl {args}"))
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl {args}");
    };
    run(
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=sandbox-ca",
    );
    run("req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1");
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext",
    );
    run("req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=driver");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    run(
        "x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext",
    );
    [
        "ca.crt",
        "server.crt",
        "server.key",
        "client.crt",
        "client.key",
    ]
    .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
}

/// An HTTPS server on loopback that insists on a client certificate signed
/// by `ca` and answers `hello` to every request.
async fn mtls_server(ca: &str, cert: &str, key: &str) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .map(Result::unwrap)
        .collect();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            chain,
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_settings_apply_to_their_origin_within_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let [ca, server_cert, server_key, client_cert, client_key] = pki(dir.path());
    let port = mtls_server(&ca, &server_cert, &server_key).await;
    let origin = format!("https://127.0.0.1:{port}");
    let url = format!("{origin}/ping");
    let grant = origin.clone();
    let tls = |extra: Value| {
        let mut params = json!({"mode": "tls", "origin": origin, "url": url});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    };

    // CA and client identity registered: the request goes through.
    let full = tls(json!({"ca": ca, "cert": client_cert, "key": client_key}));
    let out = values(apply(full.clone(), &[&grant]).await.unwrap());
    assert_eq!(out["status"], json!(200));
    assert_eq!(out["body"], json!("hello"));

    // The settings end with the call: a plain request in the next call does
    // not trust the private CA.
    let err = apply(json!({"mode": "http", "url": url}), &[&grant])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");

    // The CA alone is not enough for a server that wants a client
    // certificate: it ends the connection (with TLS 1.3 after the handshake).
    let err = apply(tls(json!({"ca": ca})), &[&grant]).await.unwrap_err();
    assert_eq!(err.kind_code(), "failed", "{err}");
    assert!(!err.to_string().contains("hello"), "{err}");

    // Settings for another origin do not apply to this one.
    let other = json!({"origin": format!("https://127.0.0.1:{}", port.wrapping_add(1)),
                       "ca": ca, "cert": client_cert, "key": client_key});
    let err = apply(tls(other), &[&grant]).await.unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");

    // TLS settings grant nothing: without the grant the request is denied.
    let err = apply(full, &[]).await.unwrap_err();
    assert_eq!(err.kind_code(), "denied", "{err}");

    // Bad PEM is invalid input, and key material is never echoed.
    let bad_key =
        "-----BEGIN PRIVATE KEY-----\nU0VDUkVUS0VZTUFURVJJQUw=\n-----END PRIVATE KEY-----\n";
    let err = apply(
        tls(json!({"ca": ca, "cert": client_cert, "key": bad_key})),
        &[&grant],
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind_code(), "invalid-input", "{err}");
    assert!(!err.to_string().contains("U0VDUkVU"), "{err}");
    let err = apply(tls(json!({"ca": "not pem"})), &[&grant])
        .await
        .unwrap_err();
    assert_eq!(err.kind_code(), "invalid-input", "{err}");
    let err = apply(
        json!({"mode": "tls", "origin": "http://127.0.0.1:1", "url": url}),
        &[&grant],
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");

    // `plan` may register settings and read.
    let req = request(tls(
        json!({"ca": ca, "cert": client_cert, "key": client_key}),
    ));
    let planned = RUNTIME
        .call(
            &HOSTILE,
            Operation::Plan,
            &req,
            &Grants::parse(&[&grant]).unwrap(),
        )
        .await
        .map(|r| r.result);
    assert!(matches!(planned, Ok(Outcome::Plan { .. })), "{planned:?}");
}
