//! Shared values, tokens and administration: `podium values`, `podium
//! tokens`, `podium whoami`, `podium admin`.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::{Client, ServerArgs};
use super::remote::{Output, items, print, s};
use super::terminal::{self, errln, outln};

#[derive(Debug, Subcommand)]
pub enum ValuesCommand {
    /// Set a value (`-` reads it from stdin, keeping secrets out of shell history).
    Set {
        key: String,
        value: String,
        #[arg(long)]
        app: String,
        /// Override for this environment only.
        #[arg(long)]
        env: Option<String>,
        /// Store it as a secret: encrypted at rest, never shown again.
        #[arg(long)]
        secret: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show one value as the environment (or the app) sees it.
    Get {
        key: String,
        #[arg(long)]
        app: String,
        #[arg(long)]
        env: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List an app's values and env overrides (secrets redacted).
    List {
        #[arg(long)]
        app: String,
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Output,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Remove a value (or an env override).
    Unset {
        key: String,
        #[arg(long)]
        app: String,
        #[arg(long)]
        env: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token; prints the token (shown only this once) on stdout.
    Create(CreateTokenArgs),
    /// The tokens this token may manage.
    List {
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Output,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke a token by id.
    Revoke {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Args)]
pub struct CreateTokenArgs {
    #[arg(long)]
    name: String,
    /// admin, owner, deployer or viewer.
    #[arg(long)]
    role: String,
    /// The app an owner/deployer/viewer token is for.
    #[arg(long)]
    app: Option<String>,
    /// An env type the token may deploy to (repeatable; none: all).
    #[arg(long = "env-type")]
    env_types: Vec<String>,
    /// Expiry: an RFC 3339 time or a duration such as `30d`, `12h`.
    #[arg(long)]
    expires: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Seal every secret under a new key and retire the old one.
    RotateKey {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The audit log: every write, who, when, outcome.
    Audit {
        /// Entries after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Output,
        #[command(flatten)]
        server: ServerArgs,
    },
}

fn env_query(env: &Option<String>) -> String {
    env.as_ref()
        .map(|e| format!("?env={e}"))
        .unwrap_or_default()
}

pub fn values(cmd: ValuesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ValuesCommand::Set {
            key,
            value,
            app,
            env,
            secret,
            server,
        } => {
            let value = if value == "-" {
                let mut v = String::new();
                std::io::stdin()
                    .read_to_string(&mut v)
                    .context("reading the value from stdin")?;
                v.trim_end_matches(['\n', '\r']).to_owned()
            } else {
                value
            };
            let r = Client::new(&server).put_json(
                &format!("/api/v1/apps/{app}/values/{key}{}", env_query(&env)),
                &json!({"value": value, "secret": secret}),
            )?;
            outln!(
                "{key} set{}{} (values version {})",
                if secret { " as a secret" } else { "" },
                env.map(|e| format!(" for env {e}")).unwrap_or_default(),
                s(&r.body, "version")
            );
        }
        ValuesCommand::Get {
            key,
            app,
            env,
            server,
        } => {
            let v = Client::new(&server).get(&format!("/api/v1/apps/{app}/values"))?;
            let found = env
                .as_ref()
                .and_then(|e| v.pointer(&format!("/envs/{e}/{key}")))
                .or_else(|| v.pointer(&format!("/app/{key}")));
            match found {
                Some(entry) => outln!("{}", s(entry, "value")),
                None => bail!(
                    "no value {key:?} in app {app}{}",
                    env.map(|e| format!(" for env {e}")).unwrap_or_default()
                ),
            }
        }
        ValuesCommand::List {
            app,
            output,
            server,
        } => {
            let v = Client::new(&server).get(&format!("/api/v1/apps/{app}/values"))?;
            print(
                &v,
                output,
                |v| {
                    let mut rows = Vec::new();
                    let mut add = |scope: &str, map: Option<&Value>| {
                        for (k, e) in map.and_then(Value::as_object).into_iter().flatten() {
                            rows.push(vec![
                                k.clone(),
                                scope.to_owned(),
                                s(e, "value"),
                                s(e, "secret"),
                            ]);
                        }
                    };
                    add("app", v.get("app"));
                    for (env, m) in v
                        .get("envs")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        add(&format!("env {env}"), Some(m));
                    }
                    rows
                },
                &["KEY", "SCOPE", "VALUE", "SECRET"],
            )?;
        }
        ValuesCommand::Unset {
            key,
            app,
            env,
            server,
        } => {
            let r = Client::new(&server).delete(&format!(
                "/api/v1/apps/{app}/values/{key}{}",
                env_query(&env)
            ))?;
            outln!("{key} unset (values version {})", s(&r.body, "version"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn token_rows(v: &Value) -> Vec<Vec<String>> {
    items(v)
        .iter()
        .map(|t| {
            vec![
                s(t, "id"),
                s(t, "name"),
                s(t, "role"),
                s(t, "app"),
                t.get("env_types")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_else(|| "*".to_owned()),
                s(t, "expires_at"),
            ]
        })
        .collect()
}

pub fn tokens(cmd: TokensCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokensCommand::Create(a) => {
            let body = json!({
                "name": a.name,
                "role": a.role,
                "app": a.app,
                "env_types": (!a.env_types.is_empty()).then_some(&a.env_types),
                "expires": a.expires,
            });
            let r = Client::new(&a.server).post_json("/api/v1/tokens", &body)?;
            errln!(
                "created token {} ({} {}); it is shown only now:",
                s(&r.body, "id"),
                s(&r.body, "role"),
                s(&r.body, "app")
            );
            outln!("{}", s(&r.body, "token"));
        }
        TokensCommand::List { output, server } => {
            let v = Client::new(&server).get("/api/v1/tokens")?;
            print(
                &v,
                output,
                token_rows,
                &["ID", "NAME", "ROLE", "APP", "ENV TYPES", "EXPIRES"],
            )?;
        }
        TokensCommand::Revoke { id, server } => {
            Client::new(&server).delete(&format!("/api/v1/tokens/{id}"))?;
            outln!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn whoami(server: ServerArgs) -> anyhow::Result<ExitCode> {
    let v = Client::new(&server).get("/api/v1/whoami")?;
    terminal::print_json(&v)?;
    Ok(ExitCode::SUCCESS)
}

pub fn admin(cmd: AdminCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AdminCommand::RotateKey { server } => {
            let r = Client::new(&server).post_json("/api/v1/admin/rotate-key", &json!({}))?;
            outln!(
                "secret key rotated: {} -> {}, {} record(s) re-sealed",
                s(&r.body, "from_key"),
                s(&r.body, "to_key"),
                s(&r.body, "records_resealed")
            );
        }
        AdminCommand::Audit {
            after,
            limit,
            output,
            server,
        } => {
            let v =
                Client::new(&server).get(&format!("/api/v1/audit?after={after}&limit={limit}"))?;
            print(
                &v["entries"],
                output,
                |v| {
                    items(v)
                        .iter()
                        .map(|a| {
                            vec![
                                s(a, "seq"),
                                s(a, "at"),
                                s(a, "actor"),
                                format!("{} {}", s(a, "method"), s(a, "path")),
                                s(a, "status"),
                                s(a, "outcome"),
                            ]
                        })
                        .collect()
                },
                &["SEQ", "AT", "ACTOR", "REQUEST", "STATUS", "OUTCOME"],
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
