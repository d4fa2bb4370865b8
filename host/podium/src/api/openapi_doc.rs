//! Completes the OpenAPI document generated from the handlers' annotations
//! with what holds for every operation and would otherwise be repeated on
//! each of them (checked against the running service by schemathesis,
//! `host/podium/tests/schemathesis.rs`):
//! - error answers are RFC 9457 problem documents served as
//!   `application/problem+json`, and any operation may answer with one
//!   (a malformed body is a 400, an oversized one a 413, ...): a `default`
//!   response;
//! - `Doc` bodies are any JSON document (lists are arrays);
//! - unsigned 64-bit integers (`u64`, e.g. the audit log's `after`) are
//!   `uint64`: utoipa writes `int64`, whose maximum is 2^63 - 1;
//! - the deploy and plan endpoints also take a raw Score file
//!   (`application/yaml`), and the events endpoint also streams
//!   (`text/event-stream`).

use serde_json::{Value, json};

const PROBLEM: &str = "application/problem+json";

/// The document as served at `/api/v1/openapi.json`.
pub fn complete(doc: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    if let Some(schema) = doc.pointer_mut("/components/schemas/Doc")
        && let Some(schema) = schema.as_object_mut()
    {
        schema.remove("type");
    }
    mark_unsigned(&mut doc);
    add_event_schemas(&mut doc);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut().filter_map(Value::as_object_mut) {
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let id = id.as_str();
            let takes_score = matches!(id, "create_deploy" | "plan");
            if id == "events"
                && let Some(content) = op
                    .get_mut("responses")
                    .and_then(|r| r.pointer_mut("/200/content"))
                    .and_then(Value::as_object_mut)
            {
                content.insert(
                    "text/event-stream".into(),
                    json!({"schema": {
                        "type": "object",
                        "description": "One server-sent event; `data` is the event as JSON",
                        "properties": {
                            "event": {"$ref": "#/components/schemas/EventKind"},
                            "id": {"type": "string"},
                            "data": {"type": "string"},
                        },
                    }}),
                );
            }
            if id == "events"
                && let Some(schema) = op
                    .get_mut("responses")
                    .and_then(|r| r.pointer_mut("/200/content/application~1json/schema"))
            {
                *schema = json!({"type": "array", "items": {"$ref": "#/components/schemas/Event"}});
            }
            if takes_score
                && let Some(content) = op
                    .get_mut("requestBody")
                    .and_then(|b| b.get_mut("content"))
                    .and_then(Value::as_object_mut)
            {
                content.insert(
                    "application/yaml".into(),
                    json!({"schema": {"type": "string", "description": "A Score file"}}),
                );
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let is_error = status.starts_with('4') || status.starts_with('5');
                if let (true, Some(content)) = (
                    is_error,
                    response.get_mut("content").and_then(Value::as_object_mut),
                ) && let Some(body) = content.remove("application/json")
                {
                    content.insert(PROBLEM.into(), body);
                }
            }
            responses.entry("default").or_insert_with(|| {
                json!({
                    "description": "An error, as an RFC 9457 problem document",
                    "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                })
            });
        }
    }
    doc
}

/// `{"type": "integer", "format": "int64", "minimum": 0}` is how utoipa
/// writes a `u64`.
fn mark_unsigned(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let unsigned = map.get("format").and_then(Value::as_str) == Some("int64")
                && map.get("minimum").and_then(Value::as_u64) == Some(0);
            if unsigned {
                map.insert("format".into(), json!("uint64"));
            }
            map.values_mut().for_each(mark_unsigned);
        }
        Value::Array(items) => items.iter_mut().for_each(mark_unsigned),
        _ => {}
    }
}

/// The typed event, its kind, phase and status enums, from the types the
/// pipeline records with (one list, no copy to drift).
fn add_event_schemas(doc: &mut Value) {
    use podium_store::{EventKind, Phase, StepStatus};
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    let phases: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
    schemas.insert(
        "EventKind".into(),
        json!({"type": "string", "enum": kinds, "description": "What happened, `<Noun><Verb>`; see docs/events.md"}),
    );
    schemas.insert("Phase".into(), json!({"type": "string", "enum": phases}));
    schemas.insert(
        "StepStatus".into(),
        json!({"type": "string", "enum": StepStatus::ALL.map(StepStatus::as_str)}),
    );
    schemas.insert(
        "Event".into(),
        json!({
            "type": "object",
            "required": ["deploy_id", "seq", "at", "kind", "message"],
            "properties": {
                "deploy_id": {"type": "string"},
                "seq": {"type": "integer", "format": "uint64", "minimum": 0},
                "at": {"type": "string", "format": "date-time"},
                "kind": {"$ref": "#/components/schemas/EventKind"},
                "resource": {"type": "string"},
                "status": {"$ref": "#/components/schemas/StepStatus"},
                "level": {"type": "string", "enum": ["trace", "debug", "info", "warn", "error"]},
                "message": {"type": "string"},
            },
        }),
    );
}
