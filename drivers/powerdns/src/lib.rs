//! Built-in driver `podium/powerdns` (resource type `dns`): one DNS record
//! (`A`, `AAAA` or `CNAME`) in a zone of a PowerDNS Authoritative server,
//! through its HTTP API.
//!
//! ```yaml
//! driver_type: podium/powerdns
//! driver_inputs:
//!   values:
//!     api_url: http://127.0.0.1:18081
//!     zone: podium.test.
//!     server_id: localhost        # optional
//!     record_type: A              # optional: A, AAAA or CNAME (else inferred from the target)
//!     target: 10.0.0.7            # optional default target
//!     ttl: 300                    # optional
//!   secrets:
//!     api_key: ${secrets.pdns_api_key}
//! grants: ["http://127.0.0.1:18081"]
//! ```
//!
//! Workload params (all optional) win over the values: `host` (relative to
//! the zone, or absolute inside it), `target`, `type`.
//!
//! - Host name: `params.host`, or `<app>-<env>-<resource>-<hash>` in the
//!   zone (one DNS label, at most 63 bytes). Output value: `host` (without
//!   the trailing dot).
//! - `apply` replaces the record set when it differs and leaves it alone when
//!   it matches (a re-apply sends no change, so the zone serial stays). A
//!   record set at the name that Podium did not make and that holds
//!   something else is a `conflict`, never overwritten. When the host name
//!   or type changes, the old record set goes in the same atomic `PATCH`.
//! - `plan` reads the record set (`GET`) and answers `create`, `update` or
//!   `unchanged`.
//! - `delete` removes the record set; one already gone is fine.
//!
//! PowerDNS's errors reach the user with its message: 401 → `denied`, 404
//! (zone or server not found) and 422 (bad record) → `invalid-input`, 409
//! and 422 "Conflicts with pre-existing RRset" → `conflict`, 5xx or an
//! unreachable API → `unavailable`. The API key is sent only as the
//! `X-API-Key` header and never appears in messages.

mod api;
pub mod inputs;
pub mod record;

use podium_driver_sdk::{Driver, Error, Info, Outputs, Plan, Request, log};

use api::{Api, Change, RecordSet};
use inputs::{INPUTS_SCHEMA, Params, Secrets, State, Values};
use record::Record;

/// The `podium/powerdns` driver.
pub struct PowerDns;

impl Driver for PowerDns {
    type Params = Params;
    type Values = Values;
    type Secrets = Secrets;
    type State = State;

    fn info() -> Info {
        Info::new("podium/powerdns", env!("CARGO_PKG_VERSION"))
            .resource_types(["dns"])
            .inputs_schema(INPUTS_SCHEMA)
    }

    fn plan(req: Request<Self>) -> Result<Plan, Error> {
        let desired = Record::desired(&req.context, &req.params, &req.driver_values)?;
        let api = api(&req.driver_values, &desired.zone, &req.driver_secrets)?;
        let current = api.get(&desired.name, desired.record_type)?;
        let changes = changes(
            &desired,
            current.as_ref(),
            req.state.as_ref(),
            &req.driver_values,
        )?;
        let what = format!(
            "{} {} {}",
            desired.host(),
            desired.record_type.as_str(),
            desired.content
        );
        Ok(if changes.is_empty() {
            Plan::unchanged(format!("record {what}"))
        } else if req.state.is_none() && current.is_none() {
            Plan::create(format!("create record {what}"))
        } else {
            Plan::update(describe(&changes, current.as_ref()))
        })
    }

    fn apply(req: Request<Self>) -> Result<Outputs<State>, Error> {
        let values = &req.driver_values;
        let desired = Record::desired(&req.context, &req.params, values)?;
        let api = api(values, &desired.zone, &req.driver_secrets)?;
        let current = api.get(&desired.name, desired.record_type)?;
        let mut changes = changes(&desired, current.as_ref(), req.state.as_ref(), values)?;

        // The old record set in another zone (the definition changed zones)
        // goes in its own PATCH, after the new one exists.
        let mut elsewhere = None;
        changes.retain(|c| match c {
            Change::Delete { .. } => match &req.state {
                Some(old) if old.zone != desired.zone => {
                    elsewhere = Some(old.clone());
                    false
                }
                _ => true,
            },
            Change::Replace(_) => true,
        });
        if !changes.is_empty() {
            api.patch(&changes)?;
        }
        if let Some(old) = elsewhere {
            let old_api = self::api(values, &old.zone, &req.driver_secrets)?;
            old_api.patch(&[Change::Delete {
                name: old.name,
                record_type: old.record_type,
            }])?;
        }

        Ok(Outputs::new()
            .value("host", desired.host().to_owned())
            .state(State {
                api_url: values.api_url.clone(),
                server_id: values.server_id.clone(),
                zone: desired.zone.clone(),
                name: desired.name.clone(),
                record_type: desired.record_type,
                content: desired.content.clone(),
                ttl: desired.ttl,
            }))
    }

    fn delete(req: Request<Self>) -> Result<(), Error> {
        let (zone, name, record_type) = match req.state {
            Some(s) => (s.zone, s.name, s.record_type),
            None => match Record::desired(&req.context, &req.params, &req.driver_values) {
                Ok(r) => (r.zone, r.name, r.record_type),
                Err(e) => {
                    // Without state and without a valid request nothing can
                    // have been made.
                    log::warn(format!("no state and {e}: nothing to delete"));
                    return Ok(());
                }
            },
        };
        let api = api(&req.driver_values, &zone, &req.driver_secrets)?;
        match api.patch(&[Change::Delete { name, record_type }]) {
            // The zone is gone, and the record with it.
            Err(Error::InvalidInput(m)) if m.contains(": 404 ") => {
                log::warn(format!("{m}; treating the record as deleted"));
                Ok(())
            }
            other => other,
        }
    }
}

podium_driver_sdk::export!(PowerDns);

fn api<'a>(values: &Values, zone: &str, secrets: &'a Secrets) -> Result<Api<'a>, Error> {
    Api::new(&values.api_url, &values.server_id, zone, &secrets.api_key)
}

/// What a `PATCH` must change so the zone holds `desired` (and not what the
/// state says was made under another name). A record set Podium did not
/// make that holds something else is a conflict.
fn changes<'r>(
    desired: &'r Record,
    current: Option<&RecordSet>,
    state: Option<&State>,
    values: &Values,
) -> Result<Vec<Change<'r>>, Error> {
    let ours = state.is_some_and(|s| {
        s.name == desired.name && s.record_type == desired.record_type && s.zone == desired.zone
    });
    let mut changes = Vec::new();
    match current {
        Some(set) if set.matches(desired) => {}
        Some(set) if !ours => {
            return Err(Error::conflict(format!(
                "{}: {} {} already exists with {} (not made by Podium for this resource); \
                 remove it or choose another host",
                api::describe(&values.api_url),
                desired.name,
                desired.record_type.as_str(),
                set.contents()
            )));
        }
        _ => changes.push(Change::Replace(desired)),
    }
    if let Some(old) = state
        && !ours
        && old.api_url == values.api_url
        && old.server_id == values.server_id
    {
        changes.push(Change::Delete {
            name: old.name.clone(),
            record_type: old.record_type,
        });
    }
    Ok(changes)
}

fn describe(changes: &[Change<'_>], current: Option<&RecordSet>) -> String {
    changes
        .iter()
        .map(|c| match c {
            Change::Replace(r) => match current {
                Some(set) => format!(
                    "set {} {} {} (was {} ttl {})",
                    r.host(),
                    r.record_type.as_str(),
                    r.content,
                    set.contents(),
                    set.ttl
                ),
                None => format!(
                    "create record {} {} {}",
                    r.host(),
                    r.record_type.as_str(),
                    r.content
                ),
            },
            Change::Delete { name, record_type } => {
                format!("delete old record {name} {}", record_type.as_str())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::RecordContent;
    use inputs::RecordType;
    use podium_driver_sdk::adapter::{self, RawRequest};

    fn values() -> Values {
        serde_json::from_value(serde_json::json!({
            "api_url": "http://127.0.0.1:18081", "zone": "z."
        }))
        .unwrap()
    }

    fn record(name: &str, content: &str) -> Record {
        Record {
            zone: "z.".into(),
            name: name.into(),
            record_type: RecordType::A,
            content: content.into(),
            ttl: 300,
        }
    }

    fn set(name: &str, content: &str) -> RecordSet {
        RecordSet {
            name: name.into(),
            record_type: "A".into(),
            ttl: 300,
            records: vec![RecordContent {
                content: content.into(),
                disabled: false,
            }],
        }
    }

    fn state(name: &str, content: &str) -> State {
        State {
            api_url: "http://127.0.0.1:18081".into(),
            server_id: "localhost".into(),
            zone: "z.".into(),
            name: name.into(),
            record_type: RecordType::A,
            content: content.into(),
            ttl: 300,
        }
    }

    #[test]
    fn changes_cover_create_update_move_and_conflict() {
        let v = values();
        let want = record("a.z.", "1.1.1.1");
        // New.
        assert_eq!(
            changes(&want, None, None, &v).unwrap(),
            [Change::Replace(&want)]
        );
        // Already right, with or without state: nothing.
        let right = set("a.z.", "1.1.1.1");
        assert_eq!(changes(&want, Some(&right), None, &v).unwrap(), []);
        let ours = state("a.z.", "1.1.1.1");
        assert_eq!(changes(&want, Some(&right), Some(&ours), &v).unwrap(), []);
        // Ours, new target.
        let old = set("a.z.", "2.2.2.2");
        assert_eq!(
            changes(&want, Some(&old), Some(&state("a.z.", "2.2.2.2")), &v).unwrap(),
            [Change::Replace(&want)]
        );
        // Not ours and different: refused.
        let err = changes(&want, Some(&old), None, &v).unwrap_err();
        assert_eq!(err.kind(), "conflict");
        assert!(
            err.message().contains("a.z. A already exists with 2.2.2.2"),
            "{err}"
        );
        // Moved: new name replaced, old one deleted, one PATCH.
        assert_eq!(
            changes(&want, None, Some(&state("old.z.", "1.1.1.1")), &v).unwrap(),
            [
                Change::Replace(&want),
                Change::Delete {
                    name: "old.z.".into(),
                    record_type: RecordType::A
                }
            ]
        );
    }

    #[test]
    fn plan_summaries_say_what_changes() {
        let want = record("a.z.", "1.1.1.1");
        assert_eq!(
            describe(&[Change::Replace(&want)], Some(&set("a.z.", "2.2.2.2"))),
            "set a.z A 1.1.1.1 (was 2.2.2.2 ttl 300)"
        );
    }

    #[test]
    fn info_and_input_errors() {
        assert_eq!(PowerDns::info().resource_types, ["dns"]);
        let err = adapter::apply::<PowerDns>(RawRequest {
            driver_values: r#"{"api_url": "http://127.0.0.1:18081", "zone": "podium.test"}"#.into(),
            driver_secrets: r#"{"api_key": "k-123456"}"#.into(),
            ..RawRequest::default()
        })
        .err()
        .map(|e| e.kind());
        assert_eq!(err, Some("invalid-input"), "no target");
    }
}
