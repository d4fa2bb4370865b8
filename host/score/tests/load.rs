//! End-to-end loading: reports with lines, stages, and the benchmark file.

#![allow(clippy::unwrap_used)]

use podium_score::placeholder::{ResolveError, Resolved};
use podium_score::{Stage, Workload, expand_workload, load_str};

fn check(text: &str, stage: Stage, expected: &[&str]) {
    let report = load_str("score.yaml", text, None).unwrap_err();
    assert_eq!(report.stage, stage, "{report}");
    let shown: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(shown, expected);
}

#[test]
fn schema_problems_all_at_once_with_lines() {
    check(
        "apiVersion: score.dev/v1b1
metadata:
  name: shop
containers:
  web:
    command: [run]
  db:
    image: postgres
    variables:
      PORT: 5432
service:
  ports:
    www: {port: 99999}
",
        Stage::Schema,
        &[
            "score.yaml:5: containers.web.image: required",
            "score.yaml:10: containers.db.variables.PORT: must be of type \"string\", found integer",
            "score.yaml:13: service.ports.www.port: must be at most 65535",
        ],
    );
}

#[test]
fn semantic_problems_with_lines() {
    check(
        "apiVersion: score.dev/v1b1
metadata:
  name: shop
containers:
  web:
    image: .
    variables:
      DB: ${resources.db.host}
    files:
      /etc/secret:
        source: ../../etc/passwd
",
        Stage::Semantic,
        &[
            "score.yaml:8: containers.web.variables.DB: ${resources.db.host} does not resolve to a resource: 'db' is not declared under resources",
            "score.yaml:11: containers.web.files[\"/etc/secret\"].source: '../../etc/passwd' escapes the Score file's directory",
        ],
    );
}

#[test]
fn decode_problems() {
    check(
        "blah\n",
        Stage::Decode,
        &["score.yaml:1: a Score file must be a YAML mapping, found a scalar"],
    );
    check(
        "a: [1\n",
        Stage::Decode,
        &["score.yaml:2: invalid YAML: while parsing a flow sequence, expected ',' or ']'"],
    );
}

fn outputs(path: &[String]) -> Result<Resolved, ResolveError> {
    Ok(match path.get(2).map(String::as_str) {
        Some("password") => Resolved::secret("pw"),
        Some("port") => Resolved::public(5432),
        Some(other) => Resolved::public(format!("{other}.internal")),
        None => Resolved::public(path.join(".")),
    })
}

#[test]
fn benchmark_file_loads_expands_and_round_trips() {
    let text = include_str!("../benches/typical-score.yaml");
    let workload = load_str("typical-score.yaml", text, None).unwrap();
    let expanded = expand_workload(&workload, &outputs).unwrap();
    assert!(expanded.secret());
    let api = &expanded.workload.containers["api"];
    assert_eq!(
        api.variables["DB_URL"],
        "postgres://username.internal:pw@host.internal:5432/database.internal"
    );
    assert_eq!(api.variables["PRICE"], "$5");
    assert_eq!(api.volumes["/data"].source, "resources.data");
    assert_eq!(
        expanded.workload.resources["dns"].params.as_ref().unwrap()["subdomain"],
        "shop-api"
    );
    // JSON round trip of the loaded (unexpanded) workload.
    assert_eq!(Workload::from_json(workload.to_json()).unwrap(), workload);
}

#[test]
fn crlf_and_bom_are_read() {
    let text = "apiVersion: score.dev/v1b1\r\nmetadata:\r\n  name: web\r\ncontainers:\r\n  main:\r\n    image: .\r\n";
    assert_eq!(load_str("crlf.yaml", text, None).unwrap().name(), "web");
    let bom = format!("\u{feff}{text}");
    assert_eq!(load_str("bom.yaml", &bom, None).unwrap().name(), "web");
}

#[test]
fn json_input_and_line_of_missing_field() {
    let text = "{\n  \"apiVersion\": \"score.dev/v1b1\",\n  \"metadata\": {\"name\": \"web\"},\n  \"containers\": {\n    \"main\": {}\n  }\n}\n";
    check(
        text,
        Stage::Schema,
        &["score.yaml:5: containers.main.image: required"],
    );
}
