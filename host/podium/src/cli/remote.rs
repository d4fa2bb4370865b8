//! The commands that talk to a podium server: apply, deploy, plan, get,
//! diff, rollback, logs, values, driver push.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde::Deserialize as _;
use serde_json::{Map, Value, json};

use super::client::{Client, ServerArgs};
use super::input;
use super::terminal::{self, errln, outln};

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum Output {
    #[default]
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Files or directories of declarative documents (`---` separated);
    /// `-` reads standard input.
    #[arg(short = 'f', long = "file", required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Score files (one workload each); `-` reads one from standard input
    /// (its `files[].source` paths are relative to the current directory).
    #[arg(
        short = 'f',
        long = "file",
        required_unless_present = "drop_workloads",
        conflicts_with = "drop_workloads"
    )]
    files: Vec<PathBuf>,
    #[arg(long)]
    app: String,
    #[arg(long)]
    env: String,
    /// Remove this workload (and its private resources) from the env's set,
    /// without a Score file. Repeatable.
    #[arg(long = "drop-workload")]
    drop_workloads: Vec<String>,
    /// Deploy: an ephemeral environment expires no sooner than this long
    /// from now (`24h`).
    #[arg(long)]
    extend_ttl: Option<String>,
    /// Image for `.` containers: `IMG` for all, or `WORKLOAD.CONTAINER=IMG`
    /// / `CONTAINER=IMG`. Repeatable.
    #[arg(long = "image")]
    images: Vec<String>,
    #[arg(long)]
    comment: Option<String>,
    /// Wait for the outcome, showing per-resource progress.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// apps, envs, deploys, resources, defs, env-types, types, drivers, profiles.
    what: String,
    /// An id to show one item (deploys, defs, apps, types).
    id: Option<String>,
    #[arg(long)]
    app: Option<String>,
    #[arg(long)]
    env: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Output,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(long)]
    app: String,
    #[arg(long)]
    env: String,
    /// The deployment to diff from.
    from: String,
    /// The deployment to diff to (default: the env's latest).
    to: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[arg(long)]
    app: String,
    #[arg(long)]
    env: String,
    /// The deployment to return to: its set, with the definition versions
    /// and shared-values version it recorded (an exact replay).
    deploy: String,
    /// Match with today's definitions and drivers instead of the recorded
    /// versions.
    #[arg(long)]
    latest_definitions: bool,
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    deploy: String,
    /// Keep following until the deployment is final.
    #[arg(long)]
    follow: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[arg(long)]
    app: String,
    #[arg(long)]
    env: String,
    /// The resource: `TYPE` or `TYPE.CLASS` (class `default` when omitted).
    resource: String,
    /// The resource's id, e.g. `shared.db` or `modules.web.externals.db`
    /// (without it, criteria that name a `res_id` do not match).
    #[arg(long = "id")]
    res_id: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Output,
    #[command(flatten)]
    server: ServerArgs,
}

fn client(s: &ServerArgs) -> Client {
    Client::new(s)
}

pub(super) fn print(
    value: &Value,
    output: Output,
    table: impl Fn(&Value) -> Vec<Vec<String>>,
    header: &[&str],
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match output {
        Output::Json => writeln!(out, "{}", terminal::json(value)?)?,
        Output::Yaml => write!(out, "{}", serde_saphyr::to_string(value)?)?,
        Output::Table => {
            // Cells carry driver-controlled text: cleaned before measuring.
            let rows: Vec<Vec<String>> = table(value)
                .into_iter()
                .map(|r| r.iter().map(|c| terminal::clean(c)).collect())
                .collect();
            let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    if let Some(w) = widths.get_mut(i) {
                        *w = (*w).max(c.len());
                    }
                }
            }
            let line = |cells: Vec<String>| {
                cells
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_owned()
            };
            writeln!(
                out,
                "{}",
                line(header.iter().map(|h| h.to_string()).collect())
            )?;
            for r in rows {
                writeln!(out, "{}", line(r))?;
            }
        }
    }
    Ok(())
}

pub(super) fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(super) fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

fn need<'a>(v: &'a Option<String>, flag: &str) -> anyhow::Result<&'a str> {
    v.as_deref()
        .with_context(|| format!("--{flag} is required for this listing"))
}

pub fn get(a: GetArgs) -> anyhow::Result<ExitCode> {
    let c = client(&a.server);
    match a.what.as_str() {
        "apps" | "app" => {
            let v = match &a.id {
                Some(id) => c.get(&format!("/api/v1/apps/{id}"))?,
                None => c.get("/api/v1/apps")?,
            };
            print(
                &v,
                a.output,
                |v| items(v).iter().map(|x| vec![s(x, "id")]).collect(),
                &["ID"],
            )?;
        }
        "env-types" => {
            let v = c.get("/api/v1/env-types")?;
            print(
                &v,
                a.output,
                |v| items(v).iter().map(|x| vec![s(x, "id")]).collect(),
                &["ID"],
            )?;
        }
        "envs" | "env" => {
            let app = need(&a.app, "app")?;
            let v = c.get(&format!("/api/v1/apps/{app}/envs"))?;
            print(
                &v,
                a.output,
                |v| {
                    items(v)
                        .iter()
                        .map(|x| vec![s(x, "id"), s(x, "type"), s(x, "last_deploy")])
                        .collect()
                },
                &["ID", "TYPE", "LAST DEPLOY"],
            )?;
        }
        "deploys" | "deploy" => {
            let (app, env) = (need(&a.app, "app")?, need(&a.env, "env")?);
            let v = match &a.id {
                Some(id) => c.get(&format!("/api/v1/apps/{app}/envs/{env}/deploys/{id}"))?,
                None => c.get(&format!("/api/v1/apps/{app}/envs/{env}/deploys"))?,
            };
            print(
                &v,
                a.output,
                |v| {
                    items(v)
                        .iter()
                        .map(|x| {
                            vec![
                                s(x, "id"),
                                s(x, "status"),
                                s(x, "trigger"),
                                s(x, "created_at"),
                                s(x, "comment"),
                            ]
                        })
                        .collect()
                },
                &["ID", "STATUS", "TRIGGER", "CREATED", "COMMENT"],
            )?;
        }
        "resources" | "resource" => {
            let (app, env) = (need(&a.app, "app")?, need(&a.env, "env")?);
            let v = c.get(&format!("/api/v1/apps/{app}/envs/{env}/resources"))?;
            print(
                &v,
                a.output,
                |v| {
                    items(v)
                        .iter()
                        .map(|x| {
                            vec![
                                s(x, "type"),
                                s(x, "class"),
                                s(x, "res_id"),
                                s(x, "definition_id"),
                                s(x, "driver_type"),
                            ]
                        })
                        .collect()
                },
                &["TYPE", "CLASS", "RES_ID", "DEFINITION", "DRIVER"],
            )?;
        }
        "defs" | "def" | "definitions" => {
            let v = match &a.id {
                Some(id) => c.get(&format!("/api/v1/resource-definitions/{id}"))?,
                None => c.get("/api/v1/resource-definitions")?,
            };
            print(
                &v,
                a.output,
                |v| {
                    items(v)
                        .iter()
                        .map(|x| {
                            vec![
                                s(x, "id"),
                                s(x, "version"),
                                s(x, "type"),
                                s(x, "driver_type"),
                                x.get("criteria").map(|c| c.to_string()).unwrap_or_default(),
                            ]
                        })
                        .collect()
                },
                &["ID", "VERSION", "TYPE", "DRIVER", "CRITERIA"],
            )?;
        }
        "drivers" => {
            let v = c.get("/api/v1/drivers")?;
            let list = v.get("drivers").cloned().unwrap_or(Value::Null);
            print(
                &list,
                a.output,
                |v| {
                    items(v)
                        .iter()
                        .map(|x| vec![s(x, "id"), s(x, "version"), s(x, "digest"), s(x, "builtin")])
                        .collect()
                },
                &["ID", "VERSION", "DIGEST", "BUILTIN"],
            )?;
        }
        "types" | "type" | "resource-types" => {
            let v = match &a.id {
                Some(id) => c.get(&format!("/api/v1/resource-types/{id}"))?,
                None => c.get("/api/v1/resource-types")?,
            };
            let names = |x: &Value, key: &str| -> String {
                x.get(key)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            };
            print(
                &v,
                a.output,
                |v| {
                    items(v)
                        .iter()
                        .map(|x| {
                            vec![
                                s(x, "name"),
                                s(x, "builtin"),
                                if x.get("open") == Some(&Value::Bool(true)) {
                                    "(any)".to_owned()
                                } else {
                                    names(x, "values")
                                },
                                names(x, "secrets"),
                            ]
                        })
                        .collect()
                },
                &["NAME", "BUILTIN", "VALUES", "SECRETS"],
            )?;
        }
        "profiles" => {
            let v = c.get("/api/v1/workload-profiles")?;
            print(
                &v,
                a.output,
                |v| items(v).iter().map(|x| vec![s(x, "id")]).collect(),
                &["ID"],
            )?;
        }
        other => bail!(
            "cannot get {other:?}: use apps, envs, deploys, resources, defs, env-types, types, drivers or profiles"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the documents of every file (directories: their `.yaml`/`.yml`/`.json` files, sorted).
fn documents(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, Value)>> {
    let mut files = Vec::new();
    for p in paths {
        if !input::is_stdin(p) && p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                })
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(p.clone());
        }
    }
    let mut docs = Vec::new();
    for f in files {
        let text = input::read_text(&f)?;
        let name = input::name(&f);
        let parsed: Vec<Value> = serde_saphyr::from_multiple(&text)
            .map_err(|e| anyhow::anyhow!("{name}: not valid YAML: {e}"))?;
        for (i, d) in parsed.into_iter().enumerate() {
            if d.is_null() {
                continue;
            }
            docs.push((format!("{name} (document {})", i + 1), d));
        }
    }
    Ok(docs)
}

const KIND_ORDER: [&str; 7] = [
    "EnvironmentType",
    "ResourceType",
    "Application",
    "Environment",
    "WorkloadProfile",
    "Values",
    "ResourceDefinition",
];

pub fn apply(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let c = client(&a.server);
    let mut docs = documents(&a.files)?;
    // Check every document before changing anything.
    for (at, d) in &docs {
        let api = d.get("apiVersion").and_then(Value::as_str);
        if api != Some("podium.dev/v1") {
            bail!(
                "{at}: apiVersion must be \"podium.dev/v1\" (found {})",
                api.map(|s| format!("{s:?}"))
                    .unwrap_or_else(|| "nothing".into())
            );
        }
        let kind = d.get("kind").and_then(Value::as_str).unwrap_or("");
        if !KIND_ORDER.contains(&kind) {
            bail!(
                "{at}: kind {kind:?} is not one of {}",
                KIND_ORDER.join(", ")
            );
        }
        let meta = d.get("metadata");
        let needs_id = kind != "Values";
        if needs_id
            && meta
                .and_then(|m| m.get("id"))
                .and_then(Value::as_str)
                .is_none()
        {
            bail!("{at}: metadata.id is required for {kind}");
        }
        if matches!(kind, "Environment" | "Values")
            && meta
                .and_then(|m| m.get("app"))
                .and_then(Value::as_str)
                .is_none()
        {
            bail!("{at}: metadata.app is required for {kind}");
        }
    }
    docs.sort_by_key(|(_, d)| {
        KIND_ORDER
            .iter()
            .position(|k| Some(*k) == d.get("kind").and_then(Value::as_str))
    });
    let mut failed = false;
    for (at, d) in &docs {
        let kind = d.get("kind").and_then(Value::as_str).unwrap_or("");
        let meta = d.get("metadata").cloned().unwrap_or(json!({}));
        let id = s(&meta, "id");
        let spec = d.get("spec").cloned().unwrap_or(json!({}));
        let result: Result<String, super::client::ClientError> = (|| {
            Ok(match kind {
                "EnvironmentType" => {
                    let existed = c.get(&format!("/api/v1/env-types/{id}")).is_ok();
                    if !existed {
                        c.put_json(&format!("/api/v1/env-types/{id}"), &json!({}))?;
                    }
                    format!(
                        "envtype/{id} {}",
                        if existed { "unchanged" } else { "created" }
                    )
                }
                "ResourceType" => {
                    let path = format!("/api/v1/resource-types/{id}");
                    let before = c.get(&path).ok();
                    let outputs = spec.get("outputs").cloned().unwrap_or(json!({}));
                    let same = before.as_ref().is_some_and(|b| {
                        let set = |v: Option<&Value>| -> std::collections::BTreeSet<String> {
                            v.and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        };
                        set(b.pointer("/outputs/values")) == set(outputs.get("values"))
                            && set(b.pointer("/outputs/secrets")) == set(outputs.get("secrets"))
                            && (b.get("builtin") == Some(&Value::Bool(true))
                                || b.get("description").unwrap_or(&Value::Null)
                                    == spec.get("description").unwrap_or(&Value::Null))
                    });
                    if same {
                        format!("type/{id} unchanged")
                    } else {
                        // The server refuses incompatible changes (409).
                        c.put_json(&path, &spec)?;
                        format!(
                            "type/{id} {}",
                            if before.is_some() {
                                "configured"
                            } else {
                                "created"
                            }
                        )
                    }
                }
                "Application" => {
                    let existed = c.get(&format!("/api/v1/apps/{id}")).is_ok();
                    if !existed {
                        c.put_json(&format!("/api/v1/apps/{id}"), &json!({}))?;
                    }
                    format!("app/{id} {}", if existed { "unchanged" } else { "created" })
                }
                "Environment" => {
                    let app = s(&meta, "app");
                    let path = format!("/api/v1/apps/{app}/envs/{id}");
                    let before = c.get(&path).ok();
                    if before
                        .as_ref()
                        .is_some_and(|b| b.get("type") == spec.get("type"))
                    {
                        format!("env/{app}/{id} unchanged")
                    } else {
                        c.put_json(&path, &spec)?;
                        format!(
                            "env/{app}/{id} {}",
                            if before.is_some() {
                                "configured"
                            } else {
                                "created"
                            }
                        )
                    }
                }
                "WorkloadProfile" => {
                    let path = format!("/api/v1/workload-profiles/{id}");
                    let list = c.get("/api/v1/workload-profiles")?;
                    let same = items(&list)
                        .iter()
                        .any(|p| s(p, "id") == id && p.get("spec") == Some(&spec));
                    if !same {
                        c.put_json(&path, &spec)?;
                    }
                    format!(
                        "profile/{id} {}",
                        if same { "unchanged" } else { "configured" }
                    )
                }
                "Values" => {
                    let app = s(&meta, "app");
                    let env = meta.get("env").and_then(Value::as_str).map(str::to_owned);
                    let mut changed = 0;
                    let Value::Object(map) = &spec else {
                        return Err(super::client::ClientError::Problem(
                            json!({"detail": format!("{at}: spec of Values is a mapping KEY: value or KEY: {{value, secret}}")}),
                        ));
                    };
                    let before = c.get(&format!("/api/v1/apps/{app}/values"))?;
                    for (k, v) in map {
                        let body = match v {
                            Value::Object(_) => v.clone(),
                            Value::String(s) => json!({"value": s}),
                            other => json!({"value": other.to_string()}),
                        };
                        let scope = match &env {
                            Some(e) => before.get("envs").and_then(|x| x.get(e)),
                            None => before.get("app"),
                        };
                        let current = scope.and_then(|x| x.get(k));
                        let secret = body.get("secret").and_then(Value::as_bool).unwrap_or(false);
                        let same = current.is_some_and(|cur| {
                            !secret
                                && cur.get("value") == body.get("value")
                                && cur.get("secret") == Some(&json!(false))
                        });
                        if same {
                            continue;
                        }
                        let q = env
                            .as_ref()
                            .map(|e| format!("?env={e}"))
                            .unwrap_or_default();
                        c.put_json(&format!("/api/v1/apps/{app}/values/{k}{q}"), &body)?;
                        changed += 1;
                    }
                    // Secret values are never shown, so they are sent again; the
                    // server keeps its version when nothing changed.
                    let after = c.get(&format!("/api/v1/apps/{app}/values"))?;
                    let bumped = after.get("version") != before.get("version");
                    format!(
                        "values/{app}{} {}",
                        env.map(|e| format!("/{e}")).unwrap_or_default(),
                        if changed == 0 || !bumped {
                            "unchanged".to_owned()
                        } else {
                            format!("configured (version {})", after["version"])
                        }
                    )
                }
                "ResourceDefinition" => {
                    let r = c.put_json(&format!("/api/v1/resource-definitions/{id}"), &spec)?;
                    let v = r
                        .body
                        .get("version")
                        .map(|v| v.to_string())
                        .unwrap_or_default();
                    format!(
                        "definition/{id} {}",
                        if r.status == 201 {
                            format!("configured (version {v})")
                        } else {
                            "unchanged".into()
                        }
                    )
                }
                _ => unreachable!("kinds were checked"),
            })
        })();
        match result {
            Ok(line) => outln!("{line}"),
            Err(e) => {
                errln!("error: {at}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The JSON body of deploy and plan.
fn deploy_body(
    files: &[PathBuf],
    images: &[String],
    comment: &Option<String>,
) -> anyhow::Result<Value> {
    let mut workloads = Vec::new();
    for f in files {
        let w = input::load_score(f).map_err(anyhow::Error::msg)?;
        let mut w = serde_json::to_value(&w)?;
        inline_file_sources(f, &mut w)?;
        workloads.push(w);
    }
    let mut image = None;
    let mut per = Map::new();
    for i in images {
        match i.split_once('=') {
            Some((k, v)) => {
                per.insert(k.to_owned(), json!(v));
            }
            None => image = Some(i.clone()),
        }
    }
    let mut body = json!({"workloads": workloads, "images": per});
    if let Some(i) = image {
        body["image"] = json!(i);
    }
    if let Some(c) = comment {
        body["comment"] = json!(c);
    }
    Ok(body)
}

/// Files with a `source` travel with the workload: the server has no access
/// to the developer's disk. The loader already refused sources that escape
/// the Score file's directory.
fn inline_file_sources(score: &std::path::Path, workload: &mut Value) -> anyhow::Result<()> {
    let base = input::base_dir(score);
    let Some(containers) = workload
        .get_mut("containers")
        .and_then(Value::as_object_mut)
    else {
        return Ok(());
    };
    for (cname, c) in containers.iter_mut() {
        let Some(files) = c.get_mut("files").and_then(Value::as_object_mut) else {
            continue;
        };
        for (target, file) in files.iter_mut() {
            let Some(source) = file
                .get("source")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                continue;
            };
            let path = base.join(&source);
            let content = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "{}: containers.{cname}.files.{target}: reading source {}",
                    input::name(score),
                    path.display()
                )
            })?;
            if let Some(obj) = file.as_object_mut() {
                obj.remove("source");
                obj.insert("content".into(), Value::String(content));
            }
        }
    }
    Ok(())
}

pub fn deploy(a: DeployArgs) -> anyhow::Result<ExitCode> {
    let c = client(&a.server);
    let body = request_body(&a)?;
    let query = match &a.extend_ttl {
        Some(t) => format!("?extend_ttl={}", query_value(t)),
        None => String::new(),
    };
    let r = c.post_json(
        &format!("/api/v1/apps/{}/envs/{}/deploys{query}", a.app, a.env),
        &body,
    )?;
    finish_deploy(&c, &r.body, a.wait)
}

/// The body of a deploy or plan: Score files, or workloads to drop.
fn request_body(a: &DeployArgs) -> anyhow::Result<Value> {
    if a.drop_workloads.is_empty() {
        return deploy_body(&a.files, &a.images, &a.comment);
    }
    let mut body = json!({"delta": {"modules": {"remove": a.drop_workloads}}});
    if let Some(c) = &a.comment {
        body["comment"] = json!(c);
    }
    Ok(body)
}

pub(super) fn finish_deploy(c: &Client, accepted: &Value, wait: bool) -> anyhow::Result<ExitCode> {
    let id = s(accepted, "id");
    let url = s(accepted, "url");
    outln!("deployment {id} queued: {url}");
    if !wait {
        return Ok(ExitCode::SUCCESS);
    }
    c.follow(&format!("{url}/events"), progress_line)?;
    // By id: a teardown's environment is gone once it finished.
    let d = c.get(&format!("/api/v1/deploys/{id}"))?;
    let status = s(&d, "status");
    if status == "succeeded" {
        outln!("deployment {id} succeeded");
        Ok(ExitCode::SUCCESS)
    } else {
        let err = d.get("error").cloned().unwrap_or(Value::Null);
        errln!(
            "deployment {id} {status}: {}{}",
            s(&err, "message"),
            if s(&err, "resource").is_empty() {
                String::new()
            } else {
                format!(
                    " (resource {}, phase {})",
                    s(&err, "resource"),
                    s(&err, "phase")
                )
            }
        );
        Ok(ExitCode::FAILURE)
    }
}

/// One line of live progress for an event.
fn progress_line(e: &Value) {
    use podium_store::EventKind as K;
    let kind = s(e, "kind");
    let res = s(e, "resource");
    let msg = s(e, "message");
    // A kind this CLI does not know (a newer server) still prints.
    let known: Option<K> = e.get("kind").and_then(|k| K::deserialize(k).ok());
    let mark = match known {
        Some(K::ResourceStarted) => "…",
        Some(K::ResourceApplied | K::ResourceDeleted) => "✓",
        Some(K::ResourceUnchanged) => "=",
        Some(
            K::ResourceFailed | K::DeploymentFailed | K::PhaseFailed | K::DeploymentInterrupted,
        ) => "✗",
        Some(K::ResourceSkipped) => "-",
        Some(K::DriverLogged) => " ",
        _ => "·",
    };
    if res.is_empty() {
        outln!("{mark} {kind}: {msg}");
    } else {
        outln!("{mark} {res}: {msg}");
    }
}

pub fn plan(a: DeployArgs) -> anyhow::Result<ExitCode> {
    let c = client(&a.server);
    let body = request_body(&a)?;
    let r = c.post_json(
        &format!("/api/v1/apps/{}/envs/{}/plan", a.app, a.env),
        &body,
    )?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for step in items(r.body.get("steps").unwrap_or(&Value::Null)) {
        let action = s(&step, "action");
        *counts.entry(action.clone()).or_default() += 1;
        let sign = match action.as_str() {
            "create" => "+",
            "update" => "~",
            "delete" => "-",
            _ => "=",
        };
        let key = format!(
            "{}.{}#{}",
            s(&step, "type"),
            s(&step, "class"),
            s(&step, "res_id")
        );
        let mut line = format!(
            "{sign} {action:<9} {key} ({} v{}, {})",
            s(&step, "definition_id"),
            s(&step, "definition_version"),
            s(&step, "driver_type")
        );
        if let Some(d) = step.get("driver") {
            line.push_str(&format!(
                "\n    driver plan: {}: {}",
                s(d, "action"),
                s(d, "summary")
            ));
        }
        if let Some(n) = step.get("note").and_then(Value::as_str) {
            line.push_str(&format!("\n    note: {n}"));
        }
        outln!("{line}");
    }
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    outln!(
        "{} to create, {} to update, {} unchanged, {} to delete",
        n("create"),
        n("update"),
        n("unchanged"),
        n("delete")
    );
    Ok(ExitCode::SUCCESS)
}

pub fn diff(a: DiffArgs) -> anyhow::Result<ExitCode> {
    let c = client(&a.server);
    let mut path = format!("/api/v1/apps/{}/envs/{}/diff?from={}", a.app, a.env, a.from);
    if let Some(t) = &a.to {
        path.push_str(&format!("&to={t}"));
    }
    let v = c.get(&path)?;
    terminal::print_json(&v)?;
    Ok(ExitCode::SUCCESS)
}

pub fn rollback(a: RollbackArgs) -> anyhow::Result<ExitCode> {
    let c = client(&a.server);
    let r = c.post_json(
        &format!("/api/v1/apps/{}/envs/{}/rollback", a.app, a.env),
        &json!({"deploy_id": a.deploy, "latest_definitions": a.latest_definitions}),
    )?;
    finish_deploy(&c, &r.body, a.wait)
}

pub fn logs(a: LogsArgs) -> anyhow::Result<ExitCode> {
    let c = client(&a.server);
    let d = c.get(&format!("/api/v1/deploys/{}", a.deploy))?;
    let url = s(&d, "url");
    if a.follow {
        c.follow(&format!("{url}/events"), print_event)?;
    } else {
        for e in items(&c.get(&format!("{url}/events"))?) {
            print_event(&e);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_event(e: &Value) {
    let res = s(e, "resource");
    outln!(
        "{} {:<20} {}{}",
        s(e, "at"),
        s(e, "kind"),
        if res.is_empty() {
            String::new()
        } else {
            format!("{res}: ")
        },
        s(e, "message")
    );
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The component file.
    file: PathBuf,
    /// The id definitions will use, e.g. `myorg/redis`.
    #[arg(long)]
    id: String,
    #[command(flatten)]
    server: ServerArgs,
}

pub fn push(a: PushArgs) -> anyhow::Result<ExitCode> {
    let c = client(&a.server);
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let r = c.post_bytes(
        &format!("/api/v1/drivers?id={}", a.id),
        "application/wasm",
        &bytes,
    )?;
    outln!(
        "driver {} pushed: {} ({})",
        s(&r.body, "id"),
        s(&r.body, "digest"),
        s(&r.body, "wit_version")
    );
    Ok(ExitCode::SUCCESS)
}

/// Percent-encodes a query parameter value.
fn query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Which definition a resource would match in an env: the winner, then
/// every definition of the type that lost, with the reason.
pub fn explain(a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let c = client(&a.server);
    let (res_type, class) = match a.resource.split_once('.') {
        Some((t, c)) => (t, Some(c)),
        None => (a.resource.as_str(), None),
    };
    let mut path = format!(
        "/api/v1/apps/{}/envs/{}/explain?type={}",
        a.app,
        a.env,
        query_value(res_type)
    );
    if let Some(class) = class {
        path.push_str(&format!("&class={}", query_value(class)));
    }
    if let Some(id) = &a.res_id {
        path.push_str(&format!("&res_id={}", query_value(id)));
    }
    let v = c.get(&path)?;
    if !matches!(a.output, Output::Table) {
        print(&v, a.output, |_| Vec::new(), &[])?;
        return Ok(ExitCode::SUCCESS);
    }
    let r = v.get("resource").cloned().unwrap_or(Value::Null);
    let ctx = v.get("context").cloned().unwrap_or(Value::Null);
    let res_id = s(&r, "res_id");
    outln!(
        "{}.{}{} in app {}, env {} (type {})",
        s(&r, "type"),
        s(&r, "class"),
        if res_id.is_empty() {
            String::new()
        } else {
            format!("#{res_id}")
        },
        s(&ctx, "app_id"),
        s(&ctx, "env_id"),
        s(&ctx, "env_type")
    );
    let candidates = items(v.get("candidates").unwrap_or(&Value::Null));
    let line = |c: &Value| {
        format!(
            "{} (version {}): {}",
            s(c, "definition"),
            s(c, "version"),
            s(c, "reason")
        )
    };
    let winner = s(&v, "winner");
    match candidates.iter().find(|c| s(c, "definition") == winner) {
        Some(w) if !winner.is_empty() => outln!("winner: {}", line(w)),
        _ if candidates.is_empty() => outln!("winner: none: no definition of this type"),
        _ => outln!("winner: none: no definition matches"),
    }
    let losers: Vec<&Value> = candidates
        .iter()
        .filter(|c| s(c, "definition") != winner)
        .collect();
    if !losers.is_empty() {
        outln!("lost:");
        for c in losers {
            outln!("  {}", line(c));
        }
    }
    Ok(ExitCode::SUCCESS)
}
