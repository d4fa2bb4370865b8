//! Running the real `podium` binary against a temporary data directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_podium");

pub struct Server {
    pub child: Child,
    pub url: String,
    pub data: PathBuf,
    /// The admin token the first start wrote to `<data>/admin-token`; the
    /// helpers below send it unless they take a token.
    pub token: String,
}

impl Server {
    /// Starts `podium serve` on an ephemeral port with `data` as its data dir.
    pub fn start(data: &Path) -> Server {
        Self::spawn(data, "warn", Stdio::inherit())
    }

    /// Like [`Server::start`], logging at `filter` and appending the
    /// server's stderr (its log) to `log`.
    pub fn start_logging(data: &Path, filter: &str, log: &Path) -> Server {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the server log");
        Self::spawn(data, filter, Stdio::from(file))
    }

    /// Like [`Server::start`], with extra environment variables.
    pub fn start_with_env(data: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Server {
        Self::spawn_with(data, "warn", Stdio::inherit(), env)
    }

    fn spawn(data: &Path, filter: &str, stderr: Stdio) -> Server {
        Self::spawn_with(data, filter, stderr, &[])
    }

    fn spawn_with(
        data: &Path,
        filter: &str,
        stderr: Stdio,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("PODIUM_LOG", filter)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start podium serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("podium listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        let token = std::fs::read_to_string(data.join("admin-token"))
            .map(|t| t.trim().to_owned())
            .unwrap_or_default();
        Server {
            child,
            url,
            data: data.to_path_buf(),
            token,
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server the way an operator does (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// Runs a CLI command against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("PODIUM_SERVER", &self.url)
            .env("PODIUM_TOKEN", &self.token)
            .env_remove("PODIUM_TOKEN_FILE")
            .env_remove("PODIUM_DATA")
            .output()
            .expect("run podium")
    }

    /// Runs a CLI command with `token` (none: no token at all).
    pub fn cli_as(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("PODIUM_SERVER", &self.url)
            .env_remove("PODIUM_TOKEN")
            .env_remove("PODIUM_TOKEN_FILE")
            .env("PODIUM_DATA", "/nonexistent");
        if let Some(t) = token {
            c.env("PODIUM_TOKEN", t);
        }
        c.output().expect("run podium")
    }

    pub fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.get_as(Some(&self.token.clone()), path)
    }

    /// GET with `token` (none: without an Authorization header).
    pub fn get_as(&self, token: Option<&str>, path: &str) -> (u16, Value) {
        let mut req = Self::agent().get(&format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let mut r = req.call().unwrap();
        let status = r.status().as_u16();
        let text = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, String, Value) {
        self.send_as(Some(&self.token.clone()), method, path, content_type, body)
    }

    /// Any request with `token` (none: without an Authorization header).
    pub fn send_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, String, Value) {
        let url = format!("{}{path}", self.url);
        let agent = Self::agent();
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut r = match method {
            "GET" | "DELETE" => {
                let mut req = if method == "GET" {
                    agent.get(&url)
                } else {
                    agent.delete(&url)
                };
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.call().unwrap()
            }
            "POST" | "PUT" => {
                // A server that answers before reading the body (401, 403,
                // 413) may close while the body is still being written: the
                // client then sees a broken pipe instead of the answer. The
                // request was refused unread; sending it again gets the answer.
                let mut attempt = 0;
                loop {
                    let mut req = if method == "POST" {
                        agent.post(&url)
                    } else {
                        agent.put(&url)
                    };
                    if let Some(a) = &auth {
                        req = req.header("authorization", a);
                    }
                    match req.header("content-type", content_type).send(body) {
                        Ok(r) => break r,
                        Err(ureq::Error::Io(e))
                            if e.kind() == std::io::ErrorKind::BrokenPipe && attempt < 3 =>
                        {
                            attempt += 1;
                        }
                        Err(e) => panic!("{method} {path}: {e}"),
                    }
                }
            }
            other => panic!("method {other}"),
        };
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            ct,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Announces a body of `len` bytes and reads the answer before sending
    /// it (how a server refuses an oversized body).
    pub fn announce(&self, path: &str, len: usize) -> (u16, String, Value) {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://");
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        write!(tcp, "POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n", self.token).unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Until the server closes, or the answer is complete (it may keep
        // the connection open for the body it will not read).
        while let Ok(n) = tcp.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let t = String::from_utf8_lossy(&buf);
            if t.contains("\r\n\r\n") && t.trim_end().ends_with('}') {
                break;
            }
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let ct = text
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type: ")
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        (
            status,
            ct,
            serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
        )
    }

    pub fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let (s, _, v) = self.send(
            "POST",
            path,
            "application/json",
            body.to_string().as_bytes(),
        );
        (s, v)
    }

    pub fn put_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let (s, _, v) = self.send("PUT", path, "application/json", body.to_string().as_bytes());
        (s, v)
    }

    /// Polls deployment `id` until it is final.
    pub fn wait(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, d) = self.get(&format!("/api/v1/deploys/{id}"));
            let status = d["status"].as_str().unwrap_or("");
            if status == "succeeded" || status == "failed" {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "deployment {id} did not finish: {d}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Sets up app `app` with env `env` of type development through the API.
pub fn app_env(s: &Server, app: &str, env: &str) {
    assert_eq!(
        s.put_json(&format!("/api/v1/apps/{app}"), &serde_json::json!({}))
            .0,
        200
    );
    let (st, body) = s.put_json(
        &format!("/api/v1/apps/{app}/envs/{env}"),
        &serde_json::json!({"type": "development"}),
    );
    assert_eq!(st, 200, "{body}");
}

/// Pushes the hostile test driver as `test/hostile` and a definition that
/// routes resource type `flaky` to it.
pub fn hostile(s: &Server, tmp: &Path) {
    let wasm = tmp.join("hostile.wasm");
    std::fs::write(&wasm, podium_test_harness::HOSTILE).unwrap();
    let o = s.cli(&[
        "driver",
        "push",
        wasm.to_str().unwrap(),
        "--id",
        "test/hostile",
    ]);
    assert!(o.status.success(), "push: {}", stderr(&o));
    let (st, body) = s.put_json(
        "/api/v1/resource-definitions/flaky",
        &serde_json::json!({"type": "flaky", "driver_type": "test/hostile", "criteria": [{}]}),
    );
    assert!(st == 201 || st == 200, "{body}");
}

/// The store of a stopped service's data directory, opened with its secret
/// key (`<data>/secret.key`): what an operator with the key file can read.
pub fn open_repo(data: &Path) -> podium_store::Repo {
    let store = podium_store::SledStore::open(&data.join("state")).unwrap();
    let text = std::fs::read_to_string(data.join("secret.key")).unwrap();
    let key = podium_store::SecretKey::parse_file_text(&text).unwrap();
    let ring = podium_store::Keyring::new(podium_store::SecretKey::from_bytes(&key));
    podium_store::Repo::new(std::sync::Arc::new(store), ring)
}

/// Every file under `dir` (the raw bytes a leak scan reads).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
