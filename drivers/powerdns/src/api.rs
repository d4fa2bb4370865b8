//! The PowerDNS Authoritative HTTP API (`/api/v1`), as far as one record set
//! goes: read it, replace it, delete it. PowerDNS's error bodies
//! (`{"error": "..."}`) become driver errors with its message.

use std::time::Duration;

use podium_driver_sdk::http::{Request, Response};
use podium_driver_sdk::retry::Backoff;
use podium_driver_sdk::{Error, log};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::inputs::RecordType;
use crate::record::Record;

const TIMEOUT: Duration = Duration::from_secs(10);
/// Retries of a request that got a 5xx: 4 attempts, waiting 50, 150 and
/// 400 ms.
const RETRY: Backoff = Backoff {
    attempts: 4,
    first: Duration::from_millis(50),
    factor: 3,
    max: Duration::from_millis(400),
};
/// Longest PowerDNS message quoted in an error.
const MAX_MESSAGE: usize = 300;

/// The zone endpoint of one PowerDNS server.
pub struct Api<'a> {
    /// `.../api/v1/servers/<server_id>/zones/<zone>`
    zone_url: String,
    key: &'a str,
    /// `PowerDNS API at <api_url>`, the prefix of every error.
    at: String,
    zone: String,
}

/// A record set as PowerDNS returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordSet {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    #[serde(default)]
    pub ttl: u32,
    #[serde(default)]
    pub records: Vec<RecordContent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordContent {
    pub content: String,
    #[serde(default)]
    pub disabled: bool,
}

impl RecordSet {
    /// Whether it holds exactly `record` (one enabled record, same TTL).
    pub fn matches(&self, record: &Record) -> bool {
        self.ttl == record.ttl
            && self.records.len() == 1
            && self
                .records
                .iter()
                .all(|r| !r.disabled && r.content.eq_ignore_ascii_case(&record.content))
    }

    /// `1.2.3.4` or `a, b` for messages.
    pub fn contents(&self) -> String {
        self.records
            .iter()
            .map(|r| r.content.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Deserialize)]
struct Zone {
    #[serde(default)]
    rrsets: Vec<RecordSet>,
}

/// One change of a `PATCH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'r> {
    Replace(&'r Record),
    Delete {
        name: String,
        record_type: RecordType,
    },
}

impl Change<'_> {
    fn to_json(&self) -> Value {
        match self {
            Change::Replace(r) => json!({
                "name": r.name,
                "type": r.record_type.as_str(),
                "ttl": r.ttl,
                "changetype": "REPLACE",
                "records": [{"content": r.content, "disabled": false}],
            }),
            Change::Delete { name, record_type } => json!({
                "name": name,
                "type": record_type.as_str(),
                "changetype": "DELETE",
            }),
        }
    }
}

impl<'a> Api<'a> {
    pub fn new(api_url: &str, server_id: &str, zone: &str, key: &'a str) -> Result<Api<'a>, Error> {
        let base = api_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid_input(format!(
                "driver_values.api_url {api_url:?} must start with http:// or https://"
            )));
        }
        if server_id.is_empty()
            || !server_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(Error::invalid_input(format!(
                "driver_values.server_id {server_id:?} may hold only letters, digits, '-', '_' and '.'"
            )));
        }
        Ok(Api {
            zone_url: format!("{base}/api/v1/servers/{server_id}/zones/{zone}"),
            key,
            at: describe(base),
            zone: zone.to_owned(),
        })
    }

    /// The record set `name`/`record_type`, if the zone has it.
    pub fn get(&self, name: &str, record_type: RecordType) -> Result<Option<RecordSet>, Error> {
        let what = format!("read {name} {}", record_type.as_str());
        // PowerDNS 4.7+ filters; older servers ignore the filter and send the
        // whole zone, so filter here as well.
        let url = format!(
            "{}?rrsets=true&rrset_name={name}&rrset_type={}",
            self.zone_url,
            record_type.as_str()
        );
        let response = self.send(Request::get(url), &what)?;
        let zone: Zone = response.json().map_err(|e| e.context(&self.at))?;
        Ok(zone
            .rrsets
            .into_iter()
            .find(|s| s.name.eq_ignore_ascii_case(name) && s.record_type == record_type.as_str()))
    }

    /// Applies `changes` in one atomic `PATCH`.
    pub fn patch(&self, changes: &[Change<'_>]) -> Result<(), Error> {
        let what = changes
            .iter()
            .map(|c| match c {
                Change::Replace(r) => {
                    format!("set {} {} {}", r.name, r.record_type.as_str(), r.content)
                }
                Change::Delete { name, record_type } => {
                    format!("delete {name} {}", record_type.as_str())
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        log::info(format!("{}: {what}", self.at));
        let body = json!({"rrsets": changes.iter().map(Change::to_json).collect::<Vec<_>>()});
        let body = serde_json::to_vec(&body)
            .map_err(|e| Error::failed(format!("cannot serialise the PATCH body: {e}")))?;
        // An explicit length, so the body is not sent chunked.
        let request = Request::patch(self.zone_url.clone())
            .header("content-type", "application/json")
            .header("content-length", body.len().to_string())
            .body(body);
        self.send(request, &what).map(drop)
    }

    /// Sends, retrying server errors a few times: every request here is
    /// idempotent, and PowerDNS with its sqlite3 backend answers 500
    /// "database is locked" when two writes meet.
    fn send(&self, request: Request, what: &str) -> Result<Response, Error> {
        let request = request.header("X-API-Key", self.key).timeout(TIMEOUT);
        let response = RETRY.run(
            || request.clone().send(),
            |sent, wait| match sent {
                Ok(response) if (500..=599).contains(&response.status) => {
                    log::warn(format!(
                        "{}: {what}: {} {}; retrying in {} ms",
                        self.at,
                        response.status,
                        error_message(response),
                        wait.as_millis()
                    ));
                    true
                }
                _ => false,
            },
        );
        let response = response.map_err(|e| e.context(format!("{}: {what}", self.at)))?;
        check(response, &self.at, what, &self.zone)
    }
}

/// `PowerDNS API at <api_url>`.
pub fn describe(api_url: &str) -> String {
    format!("PowerDNS API at {}", api_url.trim().trim_end_matches('/'))
}

/// Maps PowerDNS's error statuses onto driver errors, quoting its message.
pub fn check(response: Response, at: &str, what: &str, zone: &str) -> Result<Response, Error> {
    if response.is_success() {
        return Ok(response);
    }
    let status = response.status;
    let message = error_message(&response);
    let text = format!("{at}: {what}: {status} {message}");
    Err(match status {
        401 | 403 => Error::denied(format!(
            "{text}; check the api_key secret of the definition"
        )),
        404 => Error::invalid_input(format!(
            "{text}; check that the zone {zone} exists and driver_values.server_id"
        )),
        409 => Error::conflict(text),
        // PowerDNS says 422 for both bad records and clashes with records
        // already there (a CNAME beside other types).
        422 if message.contains("Conflicts with") => Error::conflict(text),
        400 | 422 => Error::invalid_input(text),
        408 | 429 | 500..=599 => Error::unavailable(text),
        _ => Error::failed(text),
    })
}

/// `{"error": "..."}` or the plain body (PowerDNS answers 401 and 404 with
/// `Unauthorized` and `Not Found`), bounded.
fn error_message(response: &Response) -> String {
    let text = response.text();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.trim().to_owned());
    if message.len() <= MAX_MESSAGE {
        return message;
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "PowerDNS API at http://127.0.0.1:18081";

    fn response(status: u16, body: &str) -> Response {
        Response::new(
            "PATCH http://127.0.0.1:18081/api",
            status,
            vec![],
            body.into(),
        )
    }

    fn err(status: u16, body: &str) -> Error {
        check(response(status, body), AT, "set x", "podium.test.")
            .err()
            .unwrap_or_else(|| Error::failed("no error"))
    }

    #[test]
    fn powerdns_errors_keep_its_message_and_get_the_right_kind() {
        let e = err(
            422,
            r#"{"error": "RRset a.other. IN A: Name is out of zone"}"#,
        );
        assert_eq!(e.kind(), "invalid-input");
        assert_eq!(
            e.message(),
            "PowerDNS API at http://127.0.0.1:18081: set x: 422 RRset a.other. IN A: Name is out of zone"
        );
        let e = err(401, "Unauthorized");
        assert_eq!(e.kind(), "denied");
        assert!(
            e.message().contains("401 Unauthorized; check the api_key"),
            "{e}"
        );
        let e = err(404, "Not Found");
        assert_eq!(e.kind(), "invalid-input");
        assert!(e.message().contains("zone podium.test. exists"), "{e}");
        assert_eq!(err(409, "Conflict").kind(), "conflict");
        assert_eq!(
            err(
                422,
                r#"{"error": "RRset a.podium.test. IN CNAME: Conflicts with pre-existing RRset"}"#
            )
            .kind(),
            "conflict"
        );
        assert_eq!(err(503, "").kind(), "unavailable");
        assert_eq!(err(500, r#"{"error": "db locked"}"#).kind(), "unavailable");
        assert_eq!(err(418, "teapot").kind(), "failed");
        assert!(check(response(204, ""), AT, "x", "z").is_ok());
    }

    #[test]
    fn long_messages_are_cut() {
        let e = err(422, &format!("{{\"error\": \"{}\"}}", "é".repeat(400)));
        assert!(e.message().len() < 400 + AT.len() && e.message().ends_with("..."));
    }

    #[test]
    fn changes_serialise_as_powerdns_wants() {
        let r = Record {
            zone: "z.".into(),
            name: "a.z.".into(),
            record_type: RecordType::Cname,
            content: "b.z.".into(),
            ttl: 60,
        };
        assert_eq!(
            Change::Replace(&r).to_json(),
            json!({"name": "a.z.", "type": "CNAME", "ttl": 60, "changetype": "REPLACE",
                   "records": [{"content": "b.z.", "disabled": false}]})
        );
        assert_eq!(
            Change::Delete {
                name: "a.z.".into(),
                record_type: RecordType::A
            }
            .to_json(),
            json!({"name": "a.z.", "type": "A", "changetype": "DELETE"})
        );
    }

    #[test]
    fn record_sets_match_exactly_one_enabled_record() {
        let r = Record {
            zone: "z.".into(),
            name: "a.z.".into(),
            record_type: RecordType::A,
            content: "1.2.3.4".into(),
            ttl: 60,
        };
        let set = |ttl, records: &[(&str, bool)]| RecordSet {
            name: "a.z.".into(),
            record_type: "A".into(),
            ttl,
            records: records
                .iter()
                .map(|(c, d)| RecordContent {
                    content: (*c).into(),
                    disabled: *d,
                })
                .collect(),
        };
        assert!(set(60, &[("1.2.3.4", false)]).matches(&r));
        assert!(!set(300, &[("1.2.3.4", false)]).matches(&r));
        assert!(!set(60, &[("1.2.3.4", true)]).matches(&r));
        assert!(!set(60, &[("1.2.3.4", false), ("5.6.7.8", false)]).matches(&r));
        assert_eq!(
            set(60, &[("1.2.3.4", false), ("5.6.7.8", false)]).contents(),
            "1.2.3.4, 5.6.7.8"
        );
    }

    #[test]
    fn bad_api_settings_are_invalid_input() {
        assert!(Api::new("ftp://x", "localhost", "z.", "k").is_err());
        assert!(Api::new("http://x", "local/host", "z.", "k").is_err());
        let api = Api::new("http://127.0.0.1:18081/", "localhost", "podium.test.", "k").unwrap();
        assert_eq!(
            api.zone_url,
            "http://127.0.0.1:18081/api/v1/servers/localhost/zones/podium.test."
        );
        assert_eq!(api.at, AT);
    }
}
