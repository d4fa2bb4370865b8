//! The `podium` binary end to end: the driver authoring loop, Score
//! validation, the service's start-up with the compiled-driver cache,
//! standard input as a file, and what reaches the terminal.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn podium(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_podium"));
    c.env("PODIUM_CACHE_DIR", cache).env_remove("PODIUM_LOG");
    c
}

fn run(cmd: &mut Command) -> (i32, Value, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    let stdout = String::from_utf8(stdout).unwrap();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::String(stdout));
    (
        status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// `podium driver test DRIVER --action ACTION [EXTRA...] --input INPUT`.
fn driver_test(
    dir: &Path,
    driver: &str,
    action: &str,
    extra: &[&str],
    input: &Path,
) -> (i32, Value, String) {
    run(podium(dir)
        .args(["driver", "test", driver, "--action", action])
        .args(extra)
        .arg("--input")
        .arg(input))
}

fn write(dir: &Path, name: &str, v: &Value) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

#[test]
fn echo_returns_its_inputs_as_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.json",
        &json!({
            "context": {"app_id": "shop", "env_id": "dev", "res_id": "shared.db", "res_type": "postgres"},
            "params": {"extensions": ["uuid-ossp"], "port": 6543},
            "driver_values": {"host": "db.internal", "port": 5432},
            "driver_secrets": {"password": "pa55-w0rd-x"}
        }),
    );
    let (code, out, err) = driver_test(dir.path(), "podium/echo", "apply", &[], &input);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(out["outcome"], "applied");
    assert_eq!(out["values"]["host"], "db.internal");
    assert_eq!(out["values"]["port"], 6543, "params win over driver values");
    assert_eq!(out["values"]["extensions"], json!(["uuid-ossp"]));
    assert_eq!(out["secrets"]["password"], "<redacted>");
    assert!(!out.to_string().contains("pa55-w0rd-x"));
    assert!(
        out["driver"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    let (code, out, _) = driver_test(
        dir.path(),
        "podium/echo",
        "apply",
        &["--show-secrets"],
        &input,
    );
    assert_eq!(code, 0);
    assert_eq!(out["secrets"]["password"], "pa55-w0rd-x");

    // Plan against the state apply returned: unchanged; with other inputs: update.
    let state = out["state"].clone();
    let mut req: Value = serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    req["state"] = state;
    let again = write(dir.path(), "again.json", &req);
    let (code, out, _) = driver_test(dir.path(), "podium/echo", "plan", &[], &again);
    assert_eq!(code, 0);
    assert_eq!(out["action"], "unchanged");
    req["params"]["port"] = json!(1);
    let changed = write(dir.path(), "changed.json", &req);
    let (_, out, _) = driver_test(dir.path(), "podium/echo", "plan", &[], &changed);
    assert_eq!(out["action"], "update");
}

#[test]
fn template_renders_a_small_definition() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.json",
        &json!({
            "context": {"app_id": "shop", "env_id": "dev", "res_id": "shared.api-dns", "res_type": "dns"},
            "params": {"subdomain": "api"},
            "driver_values": {
                "domain": "example.com",
                "templates": {
                    "init": "host: {{ params.subdomain }}-{{ context.env_id }}.{{ values.domain }}\n",
                    "outputs": "host: {{ init.host | tojson }}\nurl: {{ ('https://' ~ init.host) | tojson }}\n",
                    "state": "created_for: {{ context.app_id | tojson }}\n"
                }
            },
            "driver_secrets": {"token": "tok-123456", "templates": {"secrets": "api_token: {{ secrets.token | tojson }}\n"}}
        }),
    );
    let (code, out, err) = driver_test(
        dir.path(),
        "podium/template",
        "apply",
        &["--show-secrets"],
        &input,
    );
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(
        out["values"],
        json!({"host": "api-dev.example.com", "url": "https://api-dev.example.com"})
    );
    assert_eq!(out["secrets"], json!({"api_token": "tok-123456"}));
    assert_eq!(out["state"]["created_for"], "shop");

    // A typo in a template is an invalid-input error naming the template.
    let mut req: Value = serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    req["driver_values"]["templates"]["outputs"] = json!("host: {{ parms.subdomain }}\n");
    let bad = write(dir.path(), "bad.json", &req);
    let (code, out, _) = driver_test(dir.path(), "podium/template", "apply", &[], &bad);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["kind"], "driver");
    assert_eq!(out["error"]["error"], "invalid-input");
    let msg = out["message"].as_str().unwrap();
    assert!(msg.contains("outputs") && msg.contains("parms"), "{msg}");
}

#[test]
fn driver_info_names_digest_and_contract() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(podium(dir.path()).args(["driver", "info", "podium/echo"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out["id"], "podium/echo");
    assert_eq!(out["wit_version"], "podium:driver@0.1.0");
    assert!(out["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(out["version"].is_string());

    let (code, _, err) = run(podium(dir.path()).args(["driver", "info", "podium/nope"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown driver `podium/nope`") && err.contains("podium/echo"),
        "{err}"
    );
}

#[test]
fn a_failing_driver_prints_the_error_as_json_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hostile.wasm");
    std::fs::write(&wasm, podium_test_harness::HOSTILE).unwrap();
    let input = write(dir.path(), "in.json", &json!({"params": {"mode": "loop"}}));
    let started = Instant::now();
    let (code, out, _) = driver_test(
        dir.path(),
        wasm.to_str().unwrap(),
        "apply",
        &["--deadline-secs", "1"],
        &input,
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["kind"], "deadline-exceeded");
    assert!(started.elapsed() < Duration::from_secs(20));

    // Unreadable input is a usage error (exit 2), not a driver failure.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{not json").unwrap();
    let (code, _, err) = driver_test(dir.path(), "podium/echo", "apply", &[], &junk);
    assert_eq!(code, 2);
    assert!(err.contains("junk.json: not a driver request"), "{err}");
}

#[test]
fn score_validate_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "apiVersion: score.dev/v1b1\nmetadata:\n  name: api\ncontainers:\n  main:\n    image: nginx\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: score.dev/v1b1\nmetadata:\n  name: api\ncontainers:\n  main:\n    variables:\n      DB: ${resources.db.host}\n",
    )
    .unwrap();
    let (code, out, _) = run(podium(dir.path()).args(["score", "validate"]).arg(&good));
    assert_eq!(code, 0);
    assert!(out.as_str().unwrap().contains("good.yaml: ok"));
    let (code, out, _) = run(podium(dir.path())
        .args(["score", "validate"])
        .arg(&good)
        .arg(&bad));
    assert_eq!(code, 1);
    let text = out.as_str().unwrap();
    assert!(text.contains("good.yaml: ok"), "{text}");
    assert!(
        text.contains("bad.yaml:") && text.contains("image"),
        "{text}"
    );
}

/// Start `podium serve` on an ephemeral port; returns the child and address.
fn serve(data: &Path) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podium"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("PODIUM_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("podium listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr, logs)
}

fn get(addr: &str, token: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().unwrap();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("podium serve did not stop on SIGTERM");
}

#[test]
fn serve_lists_drivers_and_reuses_compiled_drivers_on_restart() {
    let data = tempfile::tempdir().unwrap();
    let (child, addr, logs) = serve(data.path());
    let token = std::fs::read_to_string(data.path().join("admin-token")).unwrap();
    let token = token.trim();
    assert_eq!(get(&addr, "", "/healthz"), (200, "ok".into()));
    assert_eq!(get(&addr, "", "/readyz").0, 200);
    assert_eq!(get(&addr, "", "/api/v1/drivers").0, 401);
    let (status, body) = get(&addr, token, "/api/v1/drivers");
    assert_eq!(status, 200);
    let drivers: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = drivers["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let builtins: Vec<&str> = podium_builtins::BUILTINS.iter().map(|b| b.id).collect();
    assert_eq!(ids, builtins);
    assert!(
        ids.starts_with(&["podium/echo", "podium/template"]),
        "{ids:?}"
    );
    let (status, body) = get(&addr, token, "/api/v1/nothing");
    assert_eq!(status, 404);
    assert!(body.contains("\"status\":404"), "{body}");
    stop(child);
    let first = logs.join().unwrap();
    assert_eq!(
        first.matches("source=Compiled").count(),
        builtins.len(),
        "{first}"
    );

    // Second start: every built-in comes from the on-disk cache.
    let (child, addr, logs) = serve(data.path());
    assert_eq!(get(&addr, token, "/healthz").0, 200);
    stop(child);
    let second = logs.join().unwrap();
    assert_eq!(
        second.matches("source=Cache").count(),
        builtins.len(),
        "{second}"
    );
    assert_eq!(second.matches("source=Compiled").count(), 0, "{second}");
}

#[test]
fn every_example_score_file_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().is_some_and(|n| n == "score.yaml") {
                files.push(p);
            }
        }
    }
    assert!(!files.is_empty(), "no examples found");
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(podium(dir.path()).args(["score", "validate"]).args(&files));
    assert_eq!(code, 0, "{out}");
}

/// Runs a CLI command against `s` with `input` on standard input.
fn cli_stdin(s: &common::Server, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(common::BIN)
        .args(args)
        .env("PODIUM_SERVER", &s.url)
        .env("PODIUM_TOKEN", &s.token)
        .env_remove("PODIUM_TOKEN_FILE")
        .env_remove("PODIUM_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

const HELLO_SETUP: &str = "apiVersion: podium.dev/v1\nkind: Application\nmetadata: {id: hello}\n---\napiVersion: podium.dev/v1\nkind: Environment\nmetadata: {id: dev, app: hello}\nspec: {type: development}\n";

#[test]
fn apply_deploy_plan_and_validate_read_standard_input() {
    let tmp = tempfile::tempdir().unwrap();
    let s = common::Server::start(&tmp.path().join("data"));
    let out = |o: &Output| format!("{}\n{}", common::stdout(o), common::stderr(o));

    let o = cli_stdin(&s, &["apply", "-f", "-"], HELLO_SETUP);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        common::stdout(&o).contains("app/hello created"),
        "{}",
        out(&o)
    );
    assert!(
        common::stdout(&o).contains("env/hello/dev created"),
        "{}",
        out(&o)
    );
    let o = cli_stdin(&s, &["apply", "-f", "-"], HELLO_SETUP);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        common::stdout(&o).contains("app/hello unchanged"),
        "{}",
        out(&o)
    );
    // Errors name standard input.
    let o = cli_stdin(
        &s,
        &["apply", "-f", "-"],
        "apiVersion: v0\nkind: Application\n",
    );
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        common::stderr(&o).contains("<stdin> (document 1): apiVersion"),
        "{}",
        out(&o)
    );
    // Only once.
    let o = cli_stdin(&s, &["apply", "-f", "-", "-f", "-"], HELLO_SETUP);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(common::stderr(&o).contains("only once"), "{}", out(&o));

    let score = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/score.yaml"),
    )
    .unwrap();
    let args = ["--app", "hello", "--env", "dev", "--image", "nginx:1.27"];
    let o = cli_stdin(&s, &[&["plan", "-f", "-"][..], &args[..]].concat(), &score);
    assert!(o.status.success(), "{}", out(&o));
    assert!(common::stdout(&o).contains("to create"), "{}", out(&o));
    let o = cli_stdin(
        &s,
        &[&["deploy", "-f", "-"][..], &args[..], &["--wait"][..]].concat(),
        &score,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(common::stdout(&o).contains("succeeded"), "{}", out(&o));
    let o = s.cli(&[
        "get", "deploys", "--app", "hello", "--env", "dev", "-o", "json",
    ]);
    let list: Value = serde_json::from_str(&common::stdout(&o)).unwrap();
    assert_eq!(list[0]["status"], "succeeded", "{list}");

    // A broken Score document on stdin: reported as `<stdin>:LINE`.
    let bad = "apiVersion: score.dev/v1b1\nmetadata:\n  name: api\ncontainers:\n  main:\n    variables: {}\n";
    let o = cli_stdin(&s, &[&["deploy", "-f", "-"][..], &args[..]].concat(), bad);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        common::stderr(&o).contains("<stdin>:5: containers.main.image"),
        "{}",
        out(&o)
    );

    let o = cli_stdin(&s, &["score", "validate", "-"], &score);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(common::stdout(&o), "<stdin>: ok\n");
    let o = cli_stdin(&s, &["score", "validate", "-"], bad);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(common::stdout(&o).starts_with("<stdin>:5: "), "{}", out(&o));
}

/// Fails if `output` holds anything a terminal would act on: ESC, BEL, the
/// bytes of 8-bit CSI/OSC, or any control character but newline and tab.
fn assert_no_terminal_controls(what: &str, output: &[u8]) {
    let text = String::from_utf8_lossy(output);
    for (byte, name) in [(0x1b, "ESC"), (0x07, "BEL"), (0x9b, "0x9b"), (0x9d, "0x9d")] {
        assert!(!output.contains(&byte), "{what}: {name} in {text:?}");
    }
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{what}: a control character in {text:?}"
    );
}

#[test]
fn driver_test_passes_no_terminal_escapes_from_a_driver() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hostile.wasm");
    std::fs::write(&wasm, podium_test_harness::HOSTILE).unwrap();
    let input = write(
        dir.path(),
        "in.json",
        &json!({"params": {"mode": "escapes"}}),
    );
    for action in ["apply", "plan", "delete"] {
        let o = podium(dir.path())
            .args([
                "driver",
                "test",
                wasm.to_str().unwrap(),
                "--action",
                action,
                "--input",
            ])
            .arg(&input)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{action}");
        assert_no_terminal_controls(action, &o.stdout);
        assert_no_terminal_controls(action, &o.stderr);
        // Escaped, not lost: the JSON still holds what the driver said.
        let out: Value = serde_json::from_slice(&o.stdout).unwrap();
        let message = out["message"].as_str().unwrap();
        assert!(
            message.contains("\u{1b}]0;pwned\u{7}window title set"),
            "{message:?}"
        );
        assert!(message.contains('\u{9b}'), "{message:?}");
        let logs = out["logs"].to_string();
        assert!(logs.contains(r"\u001b[2Jscreen cleared"), "{logs}");
        assert!(logs.contains(r"\u001b]8;;http://evil"), "{logs}");
    }
}

#[test]
fn remote_commands_pass_no_terminal_escapes_from_a_driver() {
    let tmp = tempfile::tempdir().unwrap();
    let s = common::Server::start(&tmp.path().join("data"));
    common::app_env(&s, "shop", "dev");
    common::hostile(&s, tmp.path());
    let score = common::file(
        tmp.path(),
        "job.yaml",
        "apiVersion: score.dev/v1b1\nmetadata: {name: job}\ncontainers: {main: {image: busybox}}\nresources:\n  work: {type: flaky, params: {mode: escapes}}\n",
    );
    let score = score.as_str();
    let env = ["--app", "shop", "--env", "dev"];

    let o = s.cli(&[&["deploy", "-f", score][..], &env[..], &["--wait"][..]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert_no_terminal_controls("deploy --wait", &o.stdout);
    assert_no_terminal_controls("deploy --wait", &o.stderr);
    let (stdout, stderr) = (common::stdout(&o), common::stderr(&o));
    // The plain text of the driver's lines and error is still shown.
    assert!(stdout.contains("screen cleared"), "{stdout}");
    assert!(stdout.contains("innocent link"), "{stdout}");
    assert!(
        stderr.contains("hostile escapes: window title set / red by 8-bit CSI"),
        "{stderr}"
    );
    let id = stdout.split_whitespace().nth(1).unwrap().to_owned();

    for args in [
        vec!["logs", id.as_str()],
        [&["get", "deploys"][..], &env[..]].concat(),
        [&["get", "deploys", id.as_str()][..], &env[..]].concat(),
        [
            &["get", "deploys", id.as_str()][..],
            &env[..],
            &["-o", "json"][..],
        ]
        .concat(),
        [
            &["get", "deploys", id.as_str()][..],
            &env[..],
            &["-o", "yaml"][..],
        ]
        .concat(),
        [&["plan", "-f", score][..], &env[..]].concat(),
    ] {
        let o = s.cli(&args);
        assert!(o.status.success(), "{args:?}: {}", common::stderr(&o));
        assert_no_terminal_controls(&args.join(" "), &o.stdout);
        assert_no_terminal_controls(&args.join(" "), &o.stderr);
        if args[0] == "logs" {
            assert!(
                common::stdout(&o).contains("innocent link"),
                "{}",
                common::stdout(&o)
            );
        }
        if args[0] == "plan" {
            assert!(
                common::stdout(&o).contains("hostile escapes"),
                "{}",
                common::stdout(&o)
            );
        }
        if args.contains(&"json") {
            // JSON keeps the text, escaped.
            let d: Value = serde_json::from_str(&common::stdout(&o)).unwrap();
            let message = d["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("\u{1b}]0;pwned\u{7}"), "{d}");
        }
    }
}
