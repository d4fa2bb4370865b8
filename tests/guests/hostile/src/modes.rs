//! What each mode does.

use std::hint::black_box;
use std::time::Duration;

use podium_driver_sdk::serde_json::{Map, Value, json};
use podium_driver_sdk::{Error, Outputs, Request, http, log, sql, tls};

use crate::Hostile;

const MODES: &str = "ok, loop, memhog, panic, oversize, fail, http, sql, sleep, probe, log, fs, tls, count, escapes";

/// Calls this instance has served: always 1 if every call gets a fresh one.
static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
const DEFAULT_OVERSIZE: usize = 2 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;

type Params = Map<String, Value>;

pub(crate) fn mode(params: &Params) -> Result<&str, Error> {
    string(params, "mode")?.ok_or_else(|| {
        Error::invalid_input(format!("params.mode is required; known modes: {MODES}"))
    })
}

pub(crate) fn run(req: Request<Hostile>) -> Result<Outputs<Value>, Error> {
    match mode(&req.params)? {
        "ok" => Ok(ok(req)),
        "loop" => spin(),
        "memhog" => memhog(),
        "panic" => panic!("hostile guest panicked on purpose"),
        "oversize" => oversize(&req.params),
        "fail" => Err(fail(&req.params)?),
        "http" => http_call(&req.params),
        "sql" => sql_query(&req),
        "sleep" => {
            let ms = number(&req.params, "ms")?.unwrap_or(0);
            std::thread::sleep(Duration::from_millis(ms));
            Ok(ok(req))
        }
        "probe" => Ok(probe(&req.params)),
        "fs" => fs_op(&req.params),
        "tls" => {
            configure_tls(&req.params)?;
            http_call(&req.params)
        }
        "count" => {
            let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            Ok(Outputs::new().value("calls", calls))
        }
        "log" => {
            log_everything(&req)?;
            Ok(ok(req))
        }
        "escapes" => Err(escapes()),
        other => Err(Error::invalid_input(format!(
            "params.mode: unknown mode {other:?}; known modes: {MODES}"
        ))),
    }
}

fn ok(req: Request<Hostile>) -> Outputs<Value> {
    let n = req
        .state
        .as_ref()
        .and_then(|s| s.get("n"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Outputs {
        values: req.params,
        secrets: req.driver_secrets,
        state: Some(json!({ "n": n + 1 })),
    }
}

fn spin() -> ! {
    let mut n = 0u64;
    loop {
        // black_box keeps the optimiser from proving the loop side-effect free.
        n = black_box(n.wrapping_add(1));
    }
}

fn memhog() -> ! {
    let mut hog: Vec<Vec<u8>> = Vec::new();
    loop {
        // Non-zero fill writes every page, so nothing stays lazily mapped.
        hog.push(black_box(vec![0xA5u8; CHUNK]));
        black_box(&hog);
    }
}

fn oversize(params: &Params) -> Result<Outputs<Value>, Error> {
    let size = number(params, "size")?.map_or(Ok(DEFAULT_OVERSIZE), usize::try_from);
    let size = size.map_err(|_| Error::invalid_input("params.size is too large"))?;
    Ok(Outputs::new().value("big", "x".repeat(size)))
}

fn fail(params: &Params) -> Result<Error, Error> {
    let kind = string(params, "kind")?.unwrap_or("failed");
    let message = string(params, "message")?.unwrap_or("hostile guest failed on purpose");
    Error::from_kind(kind, message).ok_or_else(|| {
        Error::invalid_input(format!(
            "params.kind: unknown kind {kind:?}; known kinds: invalid-input, denied, unavailable, conflict, failed"
        ))
    })
}

fn http_call(params: &Params) -> Result<Outputs<Value>, Error> {
    let url =
        string(params, "url")?.ok_or_else(|| Error::invalid_input("params.url is required"))?;
    let method = http::Method::parse(string(params, "method")?.unwrap_or("GET"));
    let mut request = http::Request::new(method, url);
    if let Some(body) = string(params, "body")? {
        request = request.body(body);
    }
    // `swallow`: report any failure vaguely, as a careless driver (or
    // JavaScript's `fetch`) would.
    let response = match request.send() {
        Err(_) if params.get("swallow") == Some(&Value::Bool(true)) => {
            return Err(Error::failed("the request failed"));
        }
        r => r?,
    };
    Ok(Outputs::new()
        .value("status", response.status)
        .value("body", response.text()))
}

fn sql_query(req: &Request<Hostile>) -> Result<Outputs<Value>, Error> {
    let params = &req.params;
    let url =
        string(params, "url")?.ok_or_else(|| Error::invalid_input("params.url is required"))?;
    let query = string(params, "query")?.unwrap_or("select 1 as one");
    let binds = match params.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(Error::invalid_input("params.params must be an array")),
    };
    let secret = |key: &str| {
        req.driver_secrets
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let db = sql::Connection::open(url, secret("user"), secret("password"))?;
    let rows: Vec<Value> = db.query(query, &binds)?;
    Ok(Outputs::new().value("rows", rows))
}

fn probe(params: &Params) -> Outputs<Value> {
    let addr = params
        .get("addr")
        .and_then(Value::as_str)
        .unwrap_or("127.0.0.1:1");
    let outcome = |result: std::io::Result<()>| match result {
        Ok(()) => Value::Bool(true),
        Err(e) => Value::String(e.to_string()),
    };
    Outputs::new()
        .value("env_count", std::env::vars_os().count())
        .value("args_count", std::env::args_os().count())
        .value("fs_root", outcome(std::fs::read_dir("/").map(drop)))
        .value("fs_cwd", outcome(std::fs::read_dir(".").map(drop)))
        .value(
            "socket",
            outcome(std::net::TcpStream::connect(addr).map(drop)),
        )
}

/// Registers TLS settings for `params.origin` (`ca`, `cert` + `key`).
fn configure_tls(params: &Params) -> Result<(), Error> {
    let origin = string(params, "origin")?
        .ok_or_else(|| Error::invalid_input("params.origin is required"))?;
    let mut config = tls::ClientConfig::new(origin);
    if let Some(ca) = string(params, "ca")? {
        config = config.ca_bundle(ca);
    }
    if let (Some(cert), Some(key)) = (string(params, "cert")?, string(params, "key")?) {
        config = config.client_identity(cert, key);
    }
    config.configure()
}

/// One file-system operation; the outcome is the value `result`: `true`,
/// the text read, a list of names, or the error text (never a driver error,
/// so tests see exactly what WASI answered).
fn fs_op(params: &Params) -> Result<Outputs<Value>, Error> {
    let op = string(params, "op")?.ok_or_else(|| Error::invalid_input("params.op is required"))?;
    let path =
        string(params, "path")?.ok_or_else(|| Error::invalid_input("params.path is required"))?;
    let content = string(params, "content")?.unwrap_or_default();
    let error = |e: std::io::Error| Value::String(e.to_string());
    let result = match op {
        "write" => std::fs::write(path, content).map_or_else(error, |()| Value::Bool(true)),
        "read" => std::fs::read_to_string(path).map_or_else(error, Value::String),
        "mkdir" => std::fs::create_dir_all(path).map_or_else(error, |()| Value::Bool(true)),
        "remove" => std::fs::remove_file(path).map_or_else(error, |()| Value::Bool(true)),
        "list" => std::fs::read_dir(path).map_or_else(error, |entries| {
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            json!(names)
        }),
        other => {
            return Err(Error::invalid_input(format!(
                "params.op: unknown {other:?}; known: write, read, mkdir, remove, list"
            )));
        }
    };
    Ok(Outputs::new().value("result", result))
}

fn log_everything(req: &Request<Hostile>) -> Result<(), Error> {
    let message = string(&req.params, "message")?.unwrap_or("hostile guest log line");
    log::trace(message);
    log::debug(message);
    log::info(message);
    log::warn(message);
    log::error(message);
    // Deliberately leaks secrets: the host must mask them.
    for (key, value) in &req.driver_secrets {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        log::info(format!("secret {key} = {text}"));
    }
    Ok(())
}

/// Terminal escape sequences a driver could send to whoever reads its
/// logs and errors: clear the screen, set the window title, a disguised
/// link, 8-bit CSI and OSC.
const ESCAPES: [&str; 4] = [
    "\u{1b}[2Jscreen cleared",
    "\u{1b}]0;pwned\u{7}window title set",
    "\u{1b}]8;;http://evil\u{1b}\\innocent link\u{1b}]8;;\u{1b}\\",
    "\u{9b}31mred by 8-bit CSI\u{9d}0;pwned by 8-bit OSC\u{9c}",
];

fn escapes() -> Error {
    for line in ESCAPES {
        log::warn(line);
    }
    Error::failed(format!("hostile escapes: {} / {}", ESCAPES[1], ESCAPES[3]))
}

fn string<'a>(params: &'a Params, key: &str) -> Result<Option<&'a str>, Error> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid_input(format!(
            "params.{key} must be a string"
        ))),
    }
}

fn number(params: &Params, key: &str) -> Result<Option<u64>, Error> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            Error::invalid_input(format!("params.{key} must be a non-negative integer"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use podium_driver_sdk::adapter::{self, RawRequest};
    use podium_driver_sdk::serde_json::{Value, json};
    use podium_driver_sdk::{Action, Error};

    use crate::Hostile;

    fn raw(params: Value, state: Option<&str>) -> RawRequest {
        RawRequest {
            params: params.to_string(),
            driver_secrets: json!({"password": "pw"}).to_string(),
            state: state.map(Into::into),
            ..RawRequest::default()
        }
    }

    #[test]
    fn ok_counts_applies() {
        let out =
            adapter::apply::<Hostile>(raw(json!({"mode": "ok", "x": 1}), Some(r#"{"n": 2}"#)));
        let out = out.map(|o| (o.values, o.secrets, o.state));
        assert_eq!(
            out,
            Ok((
                r#"{"mode":"ok","x":1}"#.to_owned(),
                r#"{"password":"pw"}"#.to_owned(),
                Some(r#"{"n":3}"#.to_owned())
            ))
        );
        let plan = adapter::plan::<Hostile>(raw(json!({"mode": "ok"}), None));
        assert_eq!(
            plan.map(|p| (p.action, p.summary)),
            Ok((Action::Create, "hostile ok".to_owned()))
        );
    }

    #[test]
    fn fail_uses_the_kind() {
        let err = adapter::delete::<Hostile>(raw(
            json!({"mode": "fail", "kind": "conflict", "message": "m"}),
            None,
        ));
        assert_eq!(err, Err(Error::conflict("m")));
        let err = adapter::apply::<Hostile>(raw(json!({"mode": "fail"}), None)).err();
        assert_eq!(err, Some(Error::failed("hostile guest failed on purpose")));
    }

    #[test]
    fn oversize_is_big() {
        let out = adapter::apply::<Hostile>(raw(json!({"mode": "oversize", "size": 10}), None));
        assert_eq!(
            out.map(|o| o.values),
            Ok(r#"{"big":"xxxxxxxxxx"}"#.to_owned())
        );
    }

    #[test]
    fn unknown_modes_list_the_known_ones() {
        let err = adapter::apply::<Hostile>(raw(json!({"mode": "nope"}), None)).err();
        assert!(err.is_some_and(|e| e.kind() == "invalid-input" && e.message().contains("memhog")));
        let err = adapter::apply::<Hostile>(raw(json!({}), None))
            .err()
            .map(|e| e.kind());
        assert_eq!(err, Some("invalid-input"));
    }
}
