//! Built-in driver `podium/postgres` (resource type `postgres`): a database
//! and a login role that owns it, on an existing PostgreSQL server (13 or
//! later) named by the resource definition.
//!
//! ```yaml
//! driver_type: podium/postgres
//! driver_inputs:
//!   values:
//!     host: 127.0.0.1
//!     port: 55432
//!     admin_user: podium_admin       # CREATEROLE + CREATEDB, or a superuser
//!     admin_database: postgres       # optional
//!     deletion_policy: delete        # or retain
//!     rotate_password: false         # while true, every apply sets a new password
//!   secrets:
//!     admin_password: ${secrets.pg_admin_password}
//! grants: ["postgres://127.0.0.1:55432"]
//! ```
//!
//! - Names: database and role are both `<app>_<env>_<resource>_<hash>`
//!   (see [`naming`]), valid unquoted identifiers of at most 63 bytes.
//! - `apply` creates what is missing: the role with a generated 32-character
//!   password (from the host's `wasi:random`, sent to the server only as a
//!   SCRAM-SHA-256 verifier), then the database owned by it, closed to
//!   `PUBLIC`. Outputs: values `host`, `port`, `name`, `database`,
//!   `username`; secret `password`. The state keeps names and password, so a
//!   re-apply changes nothing. A role that exists without state (lost state,
//!   or made by hand) is adopted and gets a new password, the only way to
//!   learn it; `rotate_password: true` sets a new one on every apply.
//! - `plan` runs read-only queries and answers `create`, `update` (saying
//!   what would change) or `unchanged`.
//! - `delete` ends open sessions, drops the database and the role; with
//!   `deletion_policy: retain` it leaves both.
//!
//! Errors name the server (`PostgreSQL at 127.0.0.1:55432: ...`) and never
//! contain a password. Rejected credentials are `denied`, an unreachable
//! server is `unavailable`.

pub mod inputs;
pub mod naming;
mod password;
mod scram;
mod server;

use podium_driver_sdk::serde::de::IgnoredAny;
use podium_driver_sdk::{Context, Driver, Error, Info, Outputs, Plan, Request, log};

use inputs::{DeletionPolicy, INPUTS_SCHEMA, Secrets, State, Values};
use server::{Existing, Server};

/// The `podium/postgres` driver.
pub struct Postgres;

impl Driver for Postgres {
    type Params = IgnoredAny;
    type Values = Values;
    type Secrets = Secrets;
    type State = State;

    fn info() -> Info {
        Info::new("podium/postgres", env!("CARGO_PKG_VERSION"))
            .resource_types(["postgres"])
            .inputs_schema(INPUTS_SCHEMA)
    }

    fn plan(req: Request<Self>) -> Result<Plan, Error> {
        let names = Names::of(&req.context, req.state.as_ref());
        let server = Server::connect(&req.driver_values, &req.driver_secrets)?;
        let existing = server.inspect(&names.database, &names.role)?;
        let steps = steps(
            req.state.as_ref(),
            &existing,
            &names,
            req.driver_values.rotate_password,
        );
        let at = server::describe(&req.driver_values);
        Ok(if steps.is_empty() {
            Plan::unchanged(format!("database {} on {at}", names.database))
        } else {
            let summary = format!("{} on {at}", describe_steps(&steps, &names));
            if req.state.is_none() && existing == Existing::default() {
                Plan::create(summary)
            } else {
                Plan::update(summary)
            }
        })
    }

    fn apply(req: Request<Self>) -> Result<Outputs<State>, Error> {
        let values = req.driver_values;
        let names = Names::of(&req.context, req.state.as_ref());
        if let Some(state) = &req.state
            && (state.host != values.host || state.port != values.port)
        {
            log::warn(format!(
                "the definition now names {}, the database was made on {}:{}; \
                 creating it on the new server and leaving the old one as it is",
                server::describe(&values),
                state.host,
                state.port
            ));
        }
        let server = Server::connect(&values, &req.driver_secrets)?;
        let existing = server.inspect(&names.database, &names.role)?;
        let steps = steps(
            req.state.as_ref(),
            &existing,
            &names,
            values.rotate_password,
        );

        let kept = req.state.map(|s| s.password);
        let password = match (&kept, needs_new_password(&steps)) {
            (Some(p), false) => p.clone(),
            _ => password::generate()?,
        };
        for step in &steps {
            log::info(format!(
                "{}: {}",
                server::describe(&values),
                step.describe(&names)
            ));
            match step {
                Step::CreateRole => server.create_role(&names.role, &verifier(&password)?)?,
                Step::SetPassword { .. } => {
                    server.reset_role(&names.role, &verifier(&password)?)?;
                }
                Step::AllowLogin => server.allow_login(&names.role)?,
                Step::CreateDatabase => server.create_database(&names.database, &names.role)?,
                Step::SetOwner => server.set_owner(&names.database, &names.role)?,
            }
        }

        Ok(Outputs::new()
            .value("host", values.host.clone())
            .value("port", values.port)
            .value("name", names.database.clone())
            .value("database", names.database.clone())
            .value("username", names.role.clone())
            .secret("password", password.clone())
            .state(State {
                host: values.host,
                port: values.port,
                database: names.database,
                username: names.role,
                password,
            }))
    }

    fn delete(req: Request<Self>) -> Result<(), Error> {
        let values = req.driver_values;
        let names = Names::of(&req.context, req.state.as_ref());
        let at = server::describe(&values);
        if values.deletion_policy == DeletionPolicy::Retain {
            log::info(format!(
                "{at}: deletion_policy is retain: keeping database {} and role {}",
                names.database, names.role
            ));
            return Ok(());
        }
        let server = Server::connect(&values, &req.driver_secrets)?;
        log::info(format!(
            "{at}: dropping database {} and role {}",
            names.database, names.role
        ));
        server.drop_all(&names.database, &names.role)
    }
}

podium_driver_sdk::export!(Postgres);

/// The database and role of a resource: what the state says was made, or
/// the derived names for a new resource.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Names {
    database: String,
    role: String,
}

impl Names {
    fn of(context: &Context, state: Option<&State>) -> Names {
        match state {
            Some(s) => Names {
                database: s.database.clone(),
                role: s.username.clone(),
            },
            None => {
                let name = naming::resource_name(context);
                Names {
                    database: name.clone(),
                    role: name,
                }
            }
        }
    }
}

/// One change `apply` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    CreateRole,
    /// A new password (and LOGIN) for an existing role.
    SetPassword {
        adopt: bool,
    },
    AllowLogin,
    CreateDatabase,
    SetOwner,
}

impl Step {
    fn describe(self, names: &Names) -> String {
        match self {
            Step::CreateRole => format!("create login role {}", names.role),
            Step::SetPassword { adopt: true } => {
                format!("adopt existing role {} with a new password", names.role)
            }
            Step::SetPassword { adopt: false } => {
                format!("rotate the password of role {}", names.role)
            }
            Step::AllowLogin => format!("allow role {} to log in", names.role),
            Step::CreateDatabase => format!("create database {}", names.database),
            Step::SetOwner => format!(
                "make {} the owner of database {}",
                names.role, names.database
            ),
        }
    }
}

/// What `apply` must change, in order (the role before the database it owns).
fn steps(state: Option<&State>, existing: &Existing, names: &Names, rotate: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    match &existing.role {
        None => steps.push(Step::CreateRole),
        // Without state the password is unknown: set one we know.
        Some(_) if state.is_none() => steps.push(Step::SetPassword { adopt: true }),
        Some(_) if rotate => steps.push(Step::SetPassword { adopt: false }),
        Some(role) if !role.can_login => steps.push(Step::AllowLogin),
        Some(_) => {}
    }
    match &existing.database {
        None => steps.push(Step::CreateDatabase),
        Some(db) if db.owner != names.role => steps.push(Step::SetOwner),
        Some(_) => {}
    }
    steps
}

fn needs_new_password(steps: &[Step]) -> bool {
    // CreateRole with a kept password recreates a dropped role as it was.
    steps.iter().any(|s| matches!(s, Step::SetPassword { .. }))
}

fn describe_steps(steps: &[Step], names: &Names) -> String {
    steps
        .iter()
        .map(|s| s.describe(names))
        .collect::<Vec<_>>()
        .join(", ")
}

fn verifier(password: &str) -> Result<String, Error> {
    Ok(scram::verifier(
        password,
        &password::salt()?,
        scram::ITERATIONS,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use podium_driver_sdk::adapter::{self, RawRequest};
    use server::{Database, Role};

    fn names() -> Names {
        Names {
            database: "d".into(),
            role: "r".into(),
        }
    }

    fn state() -> State {
        State {
            host: "h".into(),
            port: 1,
            database: "d".into(),
            username: "r".into(),
            password: "p".into(),
        }
    }

    fn existing(role: Option<bool>, owner: Option<&str>) -> Existing {
        Existing {
            role: role.map(|can_login| Role { can_login }),
            database: owner.map(|o| Database { owner: o.into() }),
        }
    }

    #[test]
    fn steps_cover_every_case() {
        let n = names();
        let s = state();
        assert_eq!(
            steps(None, &existing(None, None), &n, false),
            [Step::CreateRole, Step::CreateDatabase]
        );
        assert_eq!(
            steps(Some(&s), &existing(Some(true), Some("r")), &n, false),
            []
        );
        assert_eq!(
            steps(Some(&s), &existing(Some(true), Some("r")), &n, true),
            [Step::SetPassword { adopt: false }]
        );
        assert_eq!(
            steps(None, &existing(Some(true), Some("r")), &n, false),
            [Step::SetPassword { adopt: true }]
        );
        assert_eq!(
            steps(Some(&s), &existing(Some(false), Some("admin")), &n, false),
            [Step::AllowLogin, Step::SetOwner]
        );
        // Dropped behind our back: recreated, with the kept password.
        let recreate = steps(Some(&s), &existing(None, None), &n, false);
        assert_eq!(recreate, [Step::CreateRole, Step::CreateDatabase]);
        assert!(!needs_new_password(&recreate));
    }

    #[test]
    fn names_come_from_state_first() {
        let ctx = Context {
            app_id: "shop".into(),
            env_id: "dev".into(),
            res_id: "shared.db".into(),
            guresid: "g".into(),
            ..Context::default()
        };
        let derived = Names::of(&ctx, None);
        assert!(derived.database.starts_with("shop_dev_shared_db_"));
        assert_eq!(derived.database, derived.role);
        assert_eq!(Names::of(&ctx, Some(&state())), names());
    }

    #[test]
    fn info_describes_the_driver() {
        let info = Postgres::info();
        assert_eq!(info.name, "podium/postgres");
        assert_eq!(info.resource_types, ["postgres"]);
        assert!(info.inputs_schema.contains("admin_password"));
    }

    #[test]
    fn bad_inputs_are_refused_before_any_connection() {
        let err = adapter::apply::<Postgres>(RawRequest {
            driver_values: r#"{"host": "h"}"#.into(),
            driver_secrets: r#"{"admin_password": "pw-123456"}"#.into(),
            ..RawRequest::default()
        })
        .err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("invalid input: driver_values: missing field `admin_user`".to_owned())
        );
    }

    #[test]
    fn retained_resources_are_left_alone_without_a_connection() {
        // Natively every connection is `unavailable`: success proves none
        // was attempted.
        let ok = adapter::delete::<Postgres>(RawRequest {
            driver_values: r#"{"host": "h", "admin_user": "a", "deletion_policy": "retain"}"#
                .into(),
            driver_secrets: r#"{"admin_password": "pw-123456"}"#.into(),
            ..RawRequest::default()
        });
        assert_eq!(ok, Ok(()));
    }
}
