//! The Service, when the workload has `service.ports`.

use podium_driver_sdk::Error;
use serde_json::{Value, json};

use super::pod::port;
use super::{Input, Meta, object};
use crate::manifest::{Kind, Manifest};
use crate::names;

pub(super) fn service(input: &Input<'_>, meta: &Meta) -> Result<Option<Manifest>, Error> {
    let Some(service) = &input.workload.service else {
        return Ok(None);
    };
    if service.ports.is_empty() {
        return Ok(None);
    }
    let mut ports = Vec::new();
    for (name, p) in &service.ports {
        let at = format!("service.ports.{name}");
        let protocol = p.protocol().to_ascii_uppercase();
        if !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP") {
            return Err(Error::invalid_input(format!(
                "{at}.protocol: {protocol:?} is not TCP, UDP or SCTP"
            )));
        }
        ports.push(json!({
            "name": names::dns_label(name, names::LABEL_MAX),
            "port": port(p.port, &format!("{at}.port"))?,
            "targetPort": port(p.target_port(), &format!("{at}.targetPort"))?,
            "protocol": protocol,
        }));
    }
    let name = names::dns1035_label(&input.workload.metadata.name, names::LABEL_MAX);
    let spec: Value = json!({
        "type": input.profile.service_type,
        "selector": meta.selector,
        "ports": ports,
    });
    Ok(Some(object(
        Kind::Service,
        name,
        input,
        meta,
        json!({ "spec": spec }),
    )))
}
