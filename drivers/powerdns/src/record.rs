//! The record a request asks for: absolute name inside the zone, type and
//! content, checked before anything is sent (PowerDNS would answer 422 for
//! most of these, with a less helpful message).

use std::net::{Ipv4Addr, Ipv6Addr};

use podium_driver_sdk::{Context, Error, naming};

use crate::inputs::{Params, RecordType, Values};

/// Longest DNS label and name (RFC 1035), in bytes, without the root dot.
const MAX_LABEL: usize = 63;
const MAX_NAME: usize = 253;

/// One record set with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute, lower-case, with the trailing dot.
    pub zone: String,
    /// Absolute, lower-case, with the trailing dot.
    pub name: String,
    pub record_type: RecordType,
    /// As PowerDNS stores it: an address, or an absolute name with the dot.
    pub content: String,
    pub ttl: u32,
}

impl Record {
    /// The record for a request: params first, then the definition's values.
    pub fn desired(ctx: &Context, params: &Params, values: &Values) -> Result<Record, Error> {
        let zone = zone(&values.zone)?;
        let name = match &params.host {
            Some(host) => host_in_zone(host, &zone)?,
            None => format!("{}.{zone}", derived_label(ctx)),
        };
        let target = params
            .target
            .as_deref()
            .or(values.target.as_deref())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::invalid_input(
                    "no target: give `target` in the workload's params or the definition's values",
                )
            })?;
        let record_type = params
            .record_type
            .or(values.record_type)
            .unwrap_or_else(|| infer_type(target));
        let content = content(record_type, target)?;
        if record_type == RecordType::Cname && name == zone {
            return Err(Error::invalid_input(format!(
                "a CNAME cannot sit at the zone apex {zone}"
            )));
        }
        if values.ttl == 0 || values.ttl > i32::MAX as u32 {
            return Err(Error::invalid_input(
                "driver_values.ttl must be between 1 and 2147483647",
            ));
        }
        Ok(Record {
            zone,
            name,
            record_type,
            content,
            ttl: values.ttl,
        })
    }

    /// The host name users see: without the trailing dot.
    pub fn host(&self) -> &str {
        self.name.trim_end_matches('.')
    }
}

/// `Example.COM` → `example.com.`
pub fn zone(zone: &str) -> Result<String, Error> {
    let z = zone.trim().trim_end_matches('.').to_ascii_lowercase();
    check_name(&z).map_err(|why| {
        Error::invalid_input(format!(
            "driver_values.zone {zone:?} is not a zone name: {why}"
        ))
    })?;
    Ok(format!("{z}."))
}

/// A host from the params, made absolute inside `zone` (which ends in a
/// dot): `www` → `www.example.com.`; `www.example.com` and
/// `www.example.com.` stay; `@` is the apex; a name in another zone is
/// refused.
fn host_in_zone(host: &str, zone: &str) -> Result<String, Error> {
    let bare_zone = zone.trim_end_matches('.');
    let h = host.trim().to_ascii_lowercase();
    let absolute = if h == "@" || h == bare_zone || h == zone {
        zone.to_owned()
    } else if let Some(rel) = h.strip_suffix(zone).and_then(|r| r.strip_suffix('.')) {
        format!("{rel}.{zone}")
    } else if let Some(rel) = h.strip_suffix(bare_zone).and_then(|r| r.strip_suffix('.')) {
        format!("{rel}.{zone}")
    } else if h.ends_with('.') {
        return Err(Error::invalid_input(format!(
            "params.host {host:?} is outside the zone {zone}"
        )));
    } else {
        format!("{h}.{zone}")
    };
    check_name(absolute.trim_end_matches('.'))
        .map_err(|why| Error::invalid_input(format!("params.host {host:?}: {why}")))?;
    Ok(absolute)
}

/// `<app>-<env>-<resource>-<hash>`, one DNS label of at most 63 bytes
/// (the hash alone when the readable part is empty).
pub fn derived_label(ctx: &Context) -> String {
    naming::with_hash(&naming::readable(ctx, '-'), '-', MAX_LABEL, ctx)
}

/// Checks a name without its trailing dot: labels of 1–63 letters, digits,
/// `-` (not at either end) or `_` (service labels), at most 253 bytes.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!("longer than {MAX_NAME} bytes"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label".into());
        }
        if label.len() > MAX_LABEL {
            return Err(format!("label {label:?} is longer than {MAX_LABEL} bytes"));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "label {label:?} may hold only letters, digits, '-' and '_'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}

fn infer_type(target: &str) -> RecordType {
    if target.parse::<Ipv4Addr>().is_ok() {
        RecordType::A
    } else if target.parse::<Ipv6Addr>().is_ok() {
        RecordType::Aaaa
    } else {
        RecordType::Cname
    }
}

/// The record content PowerDNS expects for `target`.
fn content(record_type: RecordType, target: &str) -> Result<String, Error> {
    let bad = |what: &str| {
        Error::invalid_input(format!(
            "target {target:?} is not {what}, as a {} record needs",
            record_type.as_str()
        ))
    };
    match record_type {
        RecordType::A => target
            .parse::<Ipv4Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| bad("an IPv4 address")),
        RecordType::Aaaa => target
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| bad("an IPv6 address")),
        RecordType::Cname => {
            let name = target.trim_end_matches('.').to_ascii_lowercase();
            check_name(&name).map_err(|_| bad("a host name"))?;
            Ok(format!("{name}."))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        Context {
            app_id: "shop".into(),
            env_id: "dev".into(),
            res_id: "modules.api.externals.dns".into(),
            res_type: "dns".into(),
            guresid: "abc".into(),
            ..Context::default()
        }
    }

    fn values(extra: serde_json::Value) -> Values {
        let mut v = json!({"api_url": "http://127.0.0.1:18081", "zone": "Podium.Test"});
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        serde_json::from_value(v).unwrap()
    }

    fn params(p: serde_json::Value) -> Params {
        serde_json::from_value(p).unwrap()
    }

    #[test]
    fn derived_names_are_labels_in_the_zone() {
        let r = Record::desired(
            &ctx(),
            &Params::default(),
            &values(json!({"target": "10.0.0.7"})),
        )
        .unwrap();
        // sha256("abc") starts with ba7816bf.
        assert_eq!(r.name, "shop-dev-api-dns-ba7816bf.podium.test.");
        assert_eq!(r.host(), "shop-dev-api-dns-ba7816bf.podium.test");
        assert_eq!(r.zone, "podium.test.");
        assert_eq!(r.record_type, RecordType::A);
        assert_eq!(r.content, "10.0.0.7");
        assert_eq!(r.ttl, 300);

        let mut long = ctx();
        long.app_id = "A_very_long_application_name_that_goes_on_and_on".into();
        let label = derived_label(&long);
        assert!(label.len() <= MAX_LABEL, "{label}");
        assert!(check_name(&label).is_ok(), "{label}");
    }

    #[test]
    fn params_hosts_are_placed_in_the_zone() {
        let zone = "podium.test.";
        for (host, want) in [
            ("www", "www.podium.test."),
            ("WWW.api", "www.api.podium.test."),
            ("www.podium.test", "www.podium.test."),
            ("www.podium.test.", "www.podium.test."),
            ("@", "podium.test."),
            ("podium.test", "podium.test."),
        ] {
            assert_eq!(host_in_zone(host, zone).as_deref(), Ok(want), "{host}");
        }
        for bad in [
            "www.other.test.",
            "bad_label-",
            "a..b",
            "sp ace",
            &"x".repeat(64),
        ] {
            let err = host_in_zone(bad, zone).err().map(|e| e.kind());
            assert_eq!(err, Some("invalid-input"), "{bad}");
        }
    }

    #[test]
    fn params_win_over_values_and_types_are_inferred() {
        let v = values(json!({"target": "10.0.0.1", "record_type": "A"}));
        let r = Record::desired(
            &ctx(),
            &params(json!({"target": "lb.example.com", "type": "CNAME", "host": "api"})),
            &v,
        )
        .unwrap();
        assert_eq!(r.name, "api.podium.test.");
        assert_eq!(r.record_type, RecordType::Cname);
        assert_eq!(r.content, "lb.example.com.");

        let r = Record::desired(
            &ctx(),
            &params(json!({"target": "LB.example.com."})),
            &values(json!({})),
        )
        .unwrap();
        assert_eq!(
            (r.record_type, r.content.as_str()),
            (RecordType::Cname, "lb.example.com.")
        );
        let r = Record::desired(
            &ctx(),
            &params(json!({"target": "2001:db8::1"})),
            &values(json!({})),
        )
        .unwrap();
        assert_eq!(r.record_type, RecordType::Aaaa);
    }

    #[test]
    fn bad_requests_are_invalid_input() {
        let kind = |p: serde_json::Value, v: serde_json::Value| {
            Record::desired(&ctx(), &params(p), &values(v))
                .err()
                .map(|e| e.kind())
        };
        let invalid = Some("invalid-input");
        assert_eq!(kind(json!({}), json!({})), invalid, "no target");
        assert_eq!(
            kind(json!({"target": "1.2.3.999", "type": "A"}), json!({})),
            invalid
        );
        assert_eq!(
            kind(json!({"target": "host", "type": "AAAA"}), json!({})),
            invalid
        );
        assert_eq!(
            kind(json!({"target": "a b", "type": "CNAME"}), json!({})),
            invalid
        );
        assert_eq!(
            kind(json!({"target": "x.y", "host": "@"}), json!({})),
            invalid,
            "apex CNAME"
        );
        assert_eq!(
            kind(json!({"target": "1.2.3.4"}), json!({"ttl": 0})),
            invalid
        );
        assert_eq!(
            kind(json!({"target": "1.2.3.4"}), json!({"zone": "bad zone"})),
            invalid
        );
    }

    /// Names of real DNS records: they must never change (an existing resource
    /// would be orphaned). Computed with the code as it was before the
    /// naming helpers moved into the SDK.
    #[test]
    fn golden_names() {
        let long = "A_very.long--App".repeat(5);
        let cases = [
            (
                (
                    "shop",
                    "dev",
                    "modules.api.externals.db",
                    "3f1c0a9e5b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e",
                ),
                "shop-dev-api-db-f002715a",
            ),
            (
                ("shop", "dev", "modules.api.externals.db", ""),
                "shop-dev-api-db-5799211f",
            ),
            (
                (long.as_str(), "PR 123", "shared.my-db", "g1"),
                "a-very-long-appa-very-long-appa-very-long-appa-very-lo-711430f6",
            ),
            (
                ("Shop-ÄÖ", "PR 123", "shared.my-db", "g"),
                "shop-pr-123-shared-my-db-cd0aa985",
            ),
            (("1app", "", "", "g"), "1app-cd0aa985"),
            (("sthree", "", "", ""), "sthree-ad43c1e1"),
            (("", "", "", ""), "231fb036"),
        ];
        for ((app, env, res, guresid), want) in cases {
            let c = Context {
                app_id: app.into(),
                env_id: env.into(),
                res_id: res.into(),
                res_type: "dns".into(),
                res_class: "default".into(),
                guresid: guresid.into(),
                ..Context::default()
            };
            assert_eq!(
                derived_label(&c),
                want,
                "{app:?} {env:?} {res:?} {guresid:?}"
            );
        }
    }
}
