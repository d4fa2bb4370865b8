//! Test support for the example drivers in `examples/drivers/`: the same
//! `config` driver written in Rust, Python and JavaScript.
//!
//! - [`build`] runs a language's `build.sh` (which installs its toolchain into
//!   the Podium cache if missing) once per process and says how long it took;
//! - [`KvServer`] starts `examples/drivers/kv_server.py` on a free loopback
//!   port and reads its state from outside the driver;
//! - [`request`] writes the JSON request the three drivers take (the format
//!   of `podium driver test --input` and of `podium_runtime::DriverRequest`).
//!
//! Used by this crate's tests and benchmark and by the `podium` binary's
//! command-line tests.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A language with an example driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Rust,
    Python,
    JavaScript,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Rust, Lang::Python, Lang::JavaScript];

    /// The directory under `examples/drivers/` and the prefix of the
    /// component's file name.
    pub fn dir(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::JavaScript => "javascript",
        }
    }

    /// The name the driver reports in `info`.
    pub fn driver_name(self) -> &'static str {
        match self {
            Lang::Rust => "example/config-rust",
            Lang::Python => "example/config-python",
            Lang::JavaScript => "example/config-js",
        }
    }
}

/// A built example driver.
#[derive(Debug, Clone)]
pub struct Built {
    pub lang: Lang,
    /// `<target>/examples/<lang>-config.wasm`.
    pub path: PathBuf,
    /// How long `build.sh` ran (toolchain installation included, if it
    /// happened); zero when the component was up to date.
    pub build_time: Duration,
    /// False when the inputs were unchanged since the last build and
    /// `build.sh` was skipped.
    pub rebuilt: bool,
}

impl Built {
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap_or_else(|e| panic!("reading {}: {e}", self.path.display()))
    }
}

/// The workspace root (where `wit/driver.wit` is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The cargo target directory this test binary runs from: test and bench
/// executables live in `<target>/<profile>/deps/`.
pub fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// A compiled-driver cache shared by the tests of one target directory, so
/// the Python and JavaScript components compile once, not on every run.
pub fn artifact_cache_dir() -> PathBuf {
    target_dir().join("podium-test-cache").join("drivers")
}

/// Build `lang`'s example with its `build.sh`, once per process. Python and
/// JavaScript are rebuilt only when their inputs changed (their builds take
/// 15-25 s); `PODIUM_REBUILD_EXAMPLES=1` forces a build. Panics with the
/// script's output when the build fails.
pub fn build(lang: Lang) -> Built {
    static BUILT: OnceLock<Mutex<HashMap<Lang, Arc<OnceLock<Built>>>>> = OnceLock::new();
    let cell = {
        let mut map = BUILT
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(lang).or_default().clone()
    };
    cell.get_or_init(|| build_now(lang)).clone()
}

fn build_now(lang: Lang) -> Built {
    let root = workspace_root();
    let out_dir = target_dir().join("examples");
    let path = out_dir.join(format!("{}-config.wasm", lang.dir()));
    let stamp = out_dir.join(format!("{}-config.inputs", lang.dir()));
    let inputs = inputs_digest(&root, lang);
    let forced = std::env::var_os("PODIUM_REBUILD_EXAMPLES").is_some_and(|v| v == "1");
    // Cargo is incremental itself; the other toolchains are not.
    if lang != Lang::Rust
        && !forced
        && path.exists()
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s == inputs)
    {
        return Built {
            lang,
            path,
            build_time: Duration::ZERO,
            rebuilt: false,
        };
    }
    let script = root
        .join("examples/drivers")
        .join(lang.dir())
        .join("build.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(&out_dir).current_dir(&root);
    // The outer cargo's settings are for the host build (see
    // host/wasm-build); the guest gets its own target directory so it never
    // competes with the outer build for a lock.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_TARGET_DIR", target_dir().join("guests"));
    let started = Instant::now();
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    let build_time = started.elapsed();
    if !output.status.success() {
        panic!(
            "{} failed ({}):\n{}\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    if let Err(e) = std::fs::write(&stamp, &inputs) {
        eprintln!("warning: writing {}: {e}", stamp.display());
    }
    eprintln!(
        "built {} in {:.1} s",
        path.display(),
        build_time.as_secs_f64()
    );
    Built {
        lang,
        path,
        build_time,
        rebuilt: true,
    }
}

/// sha256 over everything a build reads: the language's directory (without
/// build outputs and caches) and the WIT contract.
fn inputs_digest(root: &Path, lang: Lang) -> String {
    let mut files = Vec::new();
    collect(&root.join("examples/drivers").join(lang.dir()), &mut files);
    collect(&root.join("wit"), &mut files);
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(std::fs::read(&f).unwrap_or_default());
    }
    hex::encode(h.finalize())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "__pycache__" || name == "node_modules" || name.ends_with(".wasm") {
            continue;
        }
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// `examples/drivers/kv_server.py` on a free loopback port, stopped on drop.
pub struct KvServer {
    child: Child,
    pub port: u16,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub token: String,
}

impl KvServer {
    pub fn start() -> KvServer {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let token = format!("kv-token-{}-{nanos}", std::process::id());
        let script = workspace_root().join("examples/drivers/kv_server.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--token", &token])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", script.display()));
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("kv server said {line:?}, not `listening on ...:PORT`"));
        KvServer {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
            token,
        }
    }

    /// The grant that lets a driver reach this server.
    pub fn grant(&self) -> String {
        self.url.clone()
    }

    /// The entry under `key`, as the server holds it.
    pub fn entry(&self, key: &str) -> Option<Value> {
        match self.http("GET", &format!("/v1/kv/{key}"), None) {
            (200, body) => Some(body),
            (404, _) => None,
            (status, body) => panic!("kv server: GET {key}: {status} {body}"),
        }
    }

    /// Every entry, by key.
    pub fn entries(&self) -> serde_json::Map<String, Value> {
        match self.http("GET", "/v1/kv", None) {
            (200, Value::Object(mut body)) => match body.remove("entries") {
                Some(Value::Object(m)) => m,
                other => panic!("kv server: entries: {other:?}"),
            },
            (status, body) => panic!("kv server: GET /v1/kv: {status} {body}"),
        }
    }

    /// Write `value` under `key` as somebody other than Podium would.
    pub fn put(&self, key: &str, value: &Value) -> Value {
        let body = json!({ "value": value });
        match self.http("PUT", &format!("/v1/kv/{key}"), Some(&body)) {
            (200 | 201, entry) => entry,
            (status, body) => panic!("kv server: PUT {key}: {status} {body}"),
        }
    }

    /// One request with `connection: close`; returns status and JSON body
    /// (`null` when empty).
    fn http(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connecting to the kv server: {e}"));
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            self.token,
            body.len()
        );
        let mut response = String::new();
        stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.read_to_string(&mut response))
            .unwrap_or_else(|e| panic!("talking to the kv server: {e}"));
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let json = if body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).unwrap_or(Value::String(body.to_string()))
        };
        (status, json)
    }
}

impl Drop for KvServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The request the example drivers take, as JSON: `guresid` names the
/// resource (the key is `podium-<guresid>`), `params` is the configuration.
pub fn request(kv: &KvServer, guresid: &str, params: Value, state: Option<Value>) -> Value {
    json!({
        "context": {
            "app_id": "shop",
            "env_id": "dev",
            "env_type": "development",
            "res_id": "shared.settings",
            "res_type": "config",
            "guresid": guresid,
        },
        "params": params,
        "driver_values": { "url": kv.url },
        "driver_secrets": { "token": kv.token },
        "state": state,
    })
}

/// The kv key the drivers use for `guresid`.
pub fn key(guresid: &str) -> String {
    format!("podium-{guresid}")
}
