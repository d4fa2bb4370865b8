//! Waiting for a Deployment's rollout, as `kubectl rollout status` does: the
//! controller has seen the new generation, every replica is updated, old
//! ones are gone and the updated ones are available. A `Progressing`
//! condition with reason `ProgressDeadlineExceeded` fails at once, with the
//! condition's message; so does the end of `rollout_timeout`.

use std::time::Duration;

use podium_driver_sdk::time::{Instant, sleep};
use podium_driver_sdk::{Error, log};
use serde_json::Value;

use crate::kube::Client;
use crate::manifest::Kind;

/// How often the Deployment is read while waiting.
const POLL: Duration = Duration::from_millis(500);

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Waiting(String),
    Complete,
    Failed(String),
}

/// The rollout state of a live Deployment.
pub fn progress(live: &Value) -> Progress {
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    let generation = int(&live["metadata"]["generation"]);
    let status = &live["status"];
    if int(&status["observedGeneration"]) < generation {
        return Progress::Waiting(format!(
            "waiting for the deployment controller to observe generation {generation}"
        ));
    }
    if let Some(conditions) = status["conditions"].as_array() {
        for c in conditions {
            if c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded" {
                let message = c["message"]
                    .as_str()
                    .unwrap_or("progress deadline exceeded");
                return Progress::Failed(format!("ProgressDeadlineExceeded: {message}"));
            }
        }
    }
    let desired = live["spec"]["replicas"].as_i64().unwrap_or(1);
    if live["kind"] == "StatefulSet" {
        // As `kubectl rollout status` for the RollingUpdate strategy.
        let updated = int(&status["updatedReplicas"]);
        let ready = int(&status["readyReplicas"]);
        if updated < desired {
            return Progress::Waiting(format!("{updated} of {desired} replicas updated"));
        }
        if ready < desired {
            return Progress::Waiting(format!("{ready} of {desired} replicas ready"));
        }
        if status["updateRevision"] != status["currentRevision"] {
            return Progress::Waiting(
                "waiting for the last replica to take the new revision".into(),
            );
        }
        return Progress::Complete;
    }
    let updated = int(&status["updatedReplicas"]);
    let replicas = int(&status["replicas"]);
    let available = int(&status["availableReplicas"]);
    if updated < desired {
        Progress::Waiting(format!("{updated} of {desired} replicas updated"))
    } else if replicas > updated {
        Progress::Waiting(format!(
            "{} old replicas pending termination",
            replicas - updated
        ))
    } else if available < updated {
        Progress::Waiting(format!(
            "{available} of {updated} updated replicas available"
        ))
    } else {
        Progress::Complete
    }
}

/// The last condition message worth quoting (`Available`/`Progressing`
/// when not true, or any `ReplicaFailure`).
fn condition_note(live: &Value) -> String {
    live["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] != "True" || c["type"] == "ReplicaFailure")
        .filter_map(|c| {
            let message = c["message"].as_str()?;
            Some(format!(
                "; {} {}: {message}",
                c["type"].as_str().unwrap_or("condition"),
                c["reason"].as_str().unwrap_or_default()
            ))
        })
        .collect()
}

fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Waits until `kind/name` (a Deployment or StatefulSet) in `namespace` has
/// rolled out, logging each new progress line.
pub fn wait(
    client: &Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<(), Error> {
    if timeout.is_zero() {
        return Ok(());
    }
    let what = format!("{kind}/{name} in namespace {namespace}");
    let start = Instant::now();
    let mut last = String::new();
    loop {
        let Some(live) = client.get(kind, namespace, name)? else {
            return Err(Error::failed(format!(
                "{what} disappeared while waiting for its rollout"
            )));
        };
        match progress(&live) {
            Progress::Complete => {
                log::info(format!(
                    "{what} rolled out ({}s)",
                    start.elapsed().as_secs()
                ));
                return Ok(());
            }
            Progress::Failed(message) => {
                return Err(Error::failed(format!(
                    "rollout of {what} failed: {message}"
                )));
            }
            Progress::Waiting(now) => {
                if now != last {
                    log::info(format!("rollout of {what}: {now}"));
                    last = now;
                }
            }
        }
        if start.elapsed() >= timeout {
            return Err(Error::failed(format!(
                "rollout of {what} did not complete within {} (rollout_timeout): {last}{}",
                human(timeout),
                condition_note(&live)
            )));
        }
        sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn progress_as_kubectl_sees_it() {
        let d = |generation: i64, status: Value| json!({"metadata": {"generation": generation}, "spec": {"replicas": 2}, "status": status});
        assert!(
            matches!(progress(&d(2, json!({"observedGeneration": 1}))), Progress::Waiting(m) if m.contains("generation 2"))
        );
        assert_eq!(
            progress(&d(
                1,
                json!({"observedGeneration": 1, "updatedReplicas": 1})
            )),
            Progress::Waiting("1 of 2 replicas updated".into())
        );
        assert_eq!(
            progress(&d(
                1,
                json!({"observedGeneration": 1, "updatedReplicas": 2, "replicas": 3})
            )),
            Progress::Waiting("1 old replicas pending termination".into())
        );
        assert_eq!(
            progress(&d(
                1,
                json!({"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 1})
            )),
            Progress::Waiting("1 of 2 updated replicas available".into())
        );
        assert_eq!(
            progress(&d(
                1,
                json!({"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2})
            )),
            Progress::Complete
        );
        let failed = d(
            1,
            json!({"observedGeneration": 1, "conditions": [{"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"a-1\" has timed out progressing."}]}),
        );
        assert_eq!(
            progress(&failed),
            Progress::Failed(
                "ProgressDeadlineExceeded: ReplicaSet \"a-1\" has timed out progressing.".into()
            )
        );
        let sts = |status: Value| json!({"kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 2}, "status": status});
        assert_eq!(
            progress(&sts(
                json!({"observedGeneration": 1, "updatedReplicas": 2, "readyReplicas": 1})
            )),
            Progress::Waiting("1 of 2 replicas ready".into())
        );
        assert_eq!(
            progress(&sts(
                json!({"observedGeneration": 1, "updatedReplicas": 2, "readyReplicas": 2,
                "currentRevision": "a", "updateRevision": "a"})
            )),
            Progress::Complete
        );
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(3)), "3s");
    }
}
