//! `podium/powerdns` in the real sandbox against PowerDNS 4.7 on loopback
//! (`scripts/backends/powerdns.sh`), checked from outside with `dig` and the
//! PowerDNS API (curl).
#![allow(clippy::unwrap_used)]

use podium_backend_driver_tests::{
    Backend, Resource, assert_no_secret, backend, context, run, value,
};
use podium_runtime::PlanAction;
use serde_json::{Value, json};
use tokio::sync::RwLock;

/// Tests take it shared; those that stop the server or watch the whole
/// zone take it alone.
static SERVER: RwLock<()> = RwLock::const_new(());

fn pdns() -> &'static Backend {
    backend("powerdns")
}

fn zone() -> &'static str {
    pdns().var("PODIUM_PDNS_ZONE")
}

fn resource(env: &str, params: Value, values: Value) -> Resource {
    let pdns = pdns();
    let mut v = json!({
        "api_url": pdns.var("PODIUM_PDNS_API_URL"),
        "zone": zone(),
    });
    if let (Value::Object(v), Value::Object(extra)) = (&mut v, values) {
        v.extend(extra);
    }
    let mut r = Resource::new(
        "podium/powerdns",
        context(env, "dns", "modules.web.externals.dns"),
        v,
        json!({"api_key": pdns.var("PODIUM_PDNS_API_KEY")}),
    )
    .grant(pdns.var("PODIUM_PDNS_GRANT"));
    r.params = params;
    r
}

/// `dig +short` against the test server.
fn dig(name: &str, record_type: &str) -> String {
    let pdns = pdns();
    let port = pdns.var("PODIUM_PDNS_DNS_PORT");
    let server = format!("@{}", pdns.var("PODIUM_PDNS_DNS_HOST"));
    let out = run(
        "dig",
        &[
            &server,
            "-p",
            port,
            "+short",
            "+norecurse",
            "+time=2",
            "+tries=1",
            name,
            record_type,
        ],
        &[],
    );
    assert!(out.status.success(), "dig failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The PowerDNS API, from outside (curl): (status, body).
fn api(method: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let pdns = pdns();
    let url = format!(
        "{}/api/v1/servers/localhost{path}",
        pdns.var("PODIUM_PDNS_API_URL")
    );
    let key = format!("X-API-Key: {}", pdns.var("PODIUM_PDNS_API_KEY"));
    let body = body.map(|b| b.to_string());
    // --retry: PowerDNS on sqlite3 answers 500 "database is locked" when
    // writes meet (other tests run in parallel).
    let mut args = vec![
        "-s",
        "--retry",
        "5",
        "--retry-delay",
        "1",
        "-w",
        "\n%{http_code}",
        "-X",
        method,
        "-H",
        &key,
        &url,
    ];
    if let Some(b) = &body {
        args.extend(["-H", "Content-Type: application/json", "-d", b]);
    }
    let out = run("curl", &args, &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_owned())
}

fn serial() -> u64 {
    let (status, body) = api("GET", &format!("/zones/{}?rrsets=false", zone()), None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["serial"]
        .as_u64()
        .unwrap()
}

/// Writes a record set directly through the API (someone else's record).
fn put_record(name: &str, record_type: &str, content: &str) {
    let (status, body) = api(
        "PATCH",
        &format!("/zones/{}", zone()),
        Some(
            json!({"rrsets": [{"name": name, "type": record_type, "ttl": 60,
            "changetype": "REPLACE", "records": [{"content": content, "disabled": false}]}]}),
        ),
    );
    assert_eq!(status, 204, "{body}");
}

/// A host label unique to this test run.
fn unique(label: &str, r: &Resource) -> String {
    let run = r
        .context
        .guresid
        .split('/')
        .next()
        .unwrap()
        .replace('-', "");
    format!("{label}-{run}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_resolve_reapply_update_and_delete() {
    // Alone: the zone serial proves that a re-apply writes nothing, and
    // other tests' writes would move it.
    let _alone = SERVER.write().await;
    let mut dns = resource("life", json!({}), json!({"target": "10.1.2.3", "ttl": 120}));

    let (action, summary) = dns.plan().await.unwrap();
    assert_eq!(action, PlanAction::Create, "{summary}");
    let out = dns.apply().await.unwrap();
    let host = value(&out, "host").to_owned();
    assert!(
        host.starts_with("bdt-life-web-dns-") && host.ends_with(".podium.test"),
        "{host}"
    );
    assert_eq!(dig(&host, "A"), "10.1.2.3");

    // Re-apply: unchanged plan, no PATCH (the zone serial stays).
    let before = serial();
    let (action, _) = dns.plan().await.unwrap();
    assert_eq!(action, PlanAction::Unchanged);
    let again = dns.apply().await.unwrap();
    assert_eq!(again.values, out.values);
    assert_eq!(serial(), before);
    assert_eq!(dig(&host, "A"), "10.1.2.3");

    // A new target from the workload's params.
    dns.params = json!({"target": "10.9.9.9"});
    let (action, summary) = dns.plan().await.unwrap();
    assert_eq!(action, PlanAction::Update);
    assert!(summary.contains("was 10.1.2.3"), "{summary}");
    dns.apply().await.unwrap();
    assert_eq!(dig(&host, "A"), "10.9.9.9");

    dns.delete().await.unwrap();
    assert_eq!(dig(&host, "A"), "");
    dns.delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_host_and_cname_and_moving_the_host() {
    let _shared = SERVER.read().await;
    let mut dns = resource("cname", json!({}), json!({}));
    let first = unique("www", &dns);
    dns.params = json!({"host": first, "target": "lb.example.com", "type": "CNAME"});
    let out = dns.apply().await.unwrap();
    assert_eq!(value(&out, "host"), format!("{first}.podium.test"));
    assert_eq!(
        dig(&format!("{first}.podium.test"), "CNAME"),
        "lb.example.com."
    );

    // A new host: the new name appears, the old one goes.
    let second = unique("api", &dns);
    dns.params = json!({"host": format!("{second}.podium.test."), "target": "lb.example.com"});
    let (action, summary) = dns.plan().await.unwrap();
    assert_eq!(action, PlanAction::Update);
    assert!(summary.contains("delete old record"), "{summary}");
    dns.apply().await.unwrap();
    assert_eq!(
        dig(&format!("{second}.podium.test"), "CNAME"),
        "lb.example.com."
    );
    assert_eq!(dig(&format!("{first}.podium.test"), "CNAME"), "");

    dns.delete().await.unwrap();
    assert_eq!(dig(&format!("{second}.podium.test"), "CNAME"), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_podium_did_not_make_are_not_overwritten() {
    let _shared = SERVER.read().await;
    let mut dns = resource("taken", json!({}), json!({"target": "10.0.0.1"}));
    let host = unique("taken", &dns);
    let fqdn = format!("{host}.podium.test.");
    put_record(&fqdn, "A", "192.0.2.1");
    dns.params = json!({"host": host});
    let err = dns.apply().await.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "conflict", "{}", err.message);
    assert!(
        err.message.contains("already exists with 192.0.2.1"),
        "{}",
        err.message
    );
    assert_eq!(dig(&fqdn, "A"), "192.0.2.1");

    // PowerDNS's own 422: a CNAME beside the existing A record.
    dns.params = json!({"host": host, "target": "x.example.com", "type": "CNAME"});
    let err = dns.apply().await.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "conflict", "{}", err.message);
    assert!(
        err.message
            .contains("PowerDNS API at http://127.0.0.1:18081")
            && err.message.contains("422 RRset")
            && err.message.contains("Conflicts with pre-existing RRset"),
        "{}",
        err.message
    );
    assert_eq!(dig(&fqdn, "A"), "192.0.2.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_zone_is_reported_with_the_powerdns_status() {
    let _shared = SERVER.read().await;
    let mut dns = resource(
        "nozone",
        json!({}),
        json!({"zone": "nope.test", "target": "10.0.0.1"}),
    );
    let err = dns.apply().await.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "invalid-input", "{}", err.message);
    assert!(
        err.message
            .contains("404 Not Found; check that the zone nope.test. exists"),
        "{}",
        err.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_is_denied_without_leaking_it() {
    let _shared = SERVER.read().await;
    let wrong = "Wrong-Pdns-Key-7d2q";
    let mut dns = resource("badkey", json!({}), json!({"target": "10.0.0.1"}));
    dns.secrets = json!({"api_key": wrong});
    for result in [dns.plan().await.map(|_| ()), dns.apply().await.map(|_| ())] {
        let err = result.unwrap_err();
        assert_eq!(err.kind, "denied", "{}", err.message);
        assert!(
            err.message
                .contains("PowerDNS API at http://127.0.0.1:18081")
                && err.message.contains("401 Unauthorized"),
            "{}",
            err.message
        );
        assert_no_secret(&err, wrong);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_grant_the_api_is_out_of_reach() {
    let _shared = SERVER.read().await;
    let mut dns = resource("nogrant", json!({}), json!({"target": "10.0.0.1"}));
    dns.grants.clear();
    let err = dns.apply().await.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "denied", "{}", err.message);
    assert!(
        err.message
            .contains("`http://127.0.0.1:18081` would allow it"),
        "{}",
        err.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_unavailable_and_the_next_apply_works() {
    let _alone = SERVER.write().await;
    let pdns = pdns();
    let mut dns = resource("down", json!({}), json!({"target": "10.0.0.2"}));
    pdns.stop();
    let result = dns.apply().await;
    pdns.start();
    let err = result.unwrap_err();
    eprintln!("{}: {}", err.kind, err.message);
    assert_eq!(err.kind, "unavailable", "{}", err.message);
    assert!(
        err.message
            .contains("PowerDNS API at http://127.0.0.1:18081"),
        "{}",
        err.message
    );

    let out = dns.apply().await.unwrap();
    assert_eq!(dig(value(&out, "host"), "A"), "10.0.0.2");
    dns.delete().await.unwrap();
}
