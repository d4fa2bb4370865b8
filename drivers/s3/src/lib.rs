//! Built-in driver `podium/s3` (resource type `s3`): a bucket on an S3
//! endpoint, through the S3 API with AWS Signature V4 computed in the guest.
//!
//! ```yaml
//! driver_type: podium/s3
//! driver_inputs:
//!   values:
//!     endpoint: http://127.0.0.1:15001   # path-style requests
//!     region: us-east-1                  # optional
//!     force_delete: false                # optional
//!   secrets:
//!     access_key_id: ${secrets.s3_access_key_id}
//!     secret_key: ${secrets.s3_secret_key}
//! grants: ["http://127.0.0.1:15001"]
//! ```
//!
//! - Bucket name: `<app>-<env>-<resource>-<hash>` (see [`naming`]), valid
//!   for S3 and the same on every apply.
//! - `apply` lists the bucket (`ListObjectsV2`, which answers with an error
//!   code where `HEAD` has none) and creates it when missing. Outputs: values
//!   `bucket`, `region`, `endpoint`; secrets `access_key_id`, `secret_key`
//!   and the aliases `aws_access_key_id`, `aws_secret_access_key`. These are
//!   the definition's own credentials: the S3 API has no portable way to
//!   mint a per-bucket key.
//! - `plan` lists the bucket and answers `create` or `unchanged` (`update`
//!   when the state says it existed and it is gone).
//! - `delete` refuses a bucket that still holds objects (`conflict`) unless
//!   `force_delete: true`, which deletes every object first (current
//!   versions only). Some servers (s3s-fs) would delete a non-empty bucket
//!   themselves, so the driver checks before it asks. A bucket already gone
//!   is fine.
//!
//! Errors name the endpoint (`S3 at http://127.0.0.1:15001: ...`) and quote
//! S3's error code and message, never the request or a key: rejected
//! credentials (403) are `denied`, 409 is `conflict`, 5xx or an unreachable
//! endpoint is `unavailable`.

mod client;
pub mod inputs;
pub mod naming;
pub mod sigv4;
mod xml;

use podium_driver_sdk::serde::de::IgnoredAny;
use podium_driver_sdk::{Driver, Error, Info, Outputs, Plan, Request, log};

use client::S3;
use inputs::{INPUTS_SCHEMA, Secrets, State, Values};

/// Pages of 1000 keys `force_delete` works through before giving up (a
/// later delete continues where it stopped).
const MAX_PAGES: usize = 100;

/// The `podium/s3` driver.
pub struct S3Driver;

impl Driver for S3Driver {
    type Params = IgnoredAny;
    type Values = Values;
    type Secrets = Secrets;
    type State = State;

    fn info() -> Info {
        Info::new("podium/s3", env!("CARGO_PKG_VERSION"))
            .resource_types(["s3"])
            .inputs_schema(INPUTS_SCHEMA)
    }

    fn plan(req: Request<Self>) -> Result<Plan, Error> {
        let bucket = bucket(&req)?;
        let s3 = client(&req.driver_values, &req.driver_secrets)?;
        let exists = s3.list(&bucket, 0)?.is_some();
        Ok(match (exists, &req.state) {
            (true, Some(_)) => Plan::unchanged(format!("bucket {bucket} on {}", s3.at)),
            (true, None) => Plan::unchanged(format!("adopt existing bucket {bucket} on {}", s3.at)),
            (false, None) => Plan::create(format!("create bucket {bucket} on {}", s3.at)),
            (false, Some(_)) => Plan::update(format!(
                "recreate bucket {bucket} on {} (it is gone)",
                s3.at
            )),
        })
    }

    fn apply(req: Request<Self>) -> Result<Outputs<State>, Error> {
        let bucket = bucket(&req)?;
        let values = &req.driver_values;
        if let Some(state) = &req.state
            && state.endpoint != values.endpoint
        {
            log::warn(format!(
                "the definition now names {}, the bucket was made on {}; creating it on the new \
                 endpoint and leaving the old one as it is",
                client::describe(&values.endpoint),
                state.endpoint
            ));
        }
        let secrets = &req.driver_secrets;
        let s3 = client(values, secrets)?;
        if s3.list(&bucket, 0)?.is_none() {
            s3.create_bucket(&bucket)?;
        }
        Ok(Outputs::new()
            .value("bucket", bucket.clone())
            .value("region", values.region.clone())
            .value("endpoint", values.endpoint.clone())
            .secret("access_key_id", secrets.access_key_id.clone())
            .secret("secret_key", secrets.secret_key.clone())
            .secret("aws_access_key_id", secrets.access_key_id.clone())
            .secret("aws_secret_access_key", secrets.secret_key.clone())
            .state(State {
                endpoint: values.endpoint.clone(),
                region: values.region.clone(),
                bucket,
            }))
    }

    fn delete(req: Request<Self>) -> Result<(), Error> {
        let bucket = bucket(&req)?;
        let s3 = client(&req.driver_values, &req.driver_secrets)?;
        let Some(first) = s3.list(&bucket, 1)? else {
            log::info(format!("{}: bucket {bucket} is gone already", s3.at));
            return Ok(());
        };
        if !first.keys.is_empty() {
            if !req.driver_values.force_delete {
                return Err(Error::conflict(format!(
                    "{}: bucket {bucket} is not empty; it is kept. Empty it, or set \
                     force_delete: true in the definition's values to delete it with its objects",
                    s3.at
                )));
            }
            empty(&s3, &bucket)?;
        }
        s3.delete_bucket(&bucket)
    }
}

podium_driver_sdk::export!(S3Driver);

/// The bucket of the request: what the state says was made, or the derived
/// name.
fn bucket(req: &Request<S3Driver>) -> Result<String, Error> {
    let name = match &req.state {
        Some(s) => s.bucket.clone(),
        None => naming::bucket_name(&req.context),
    };
    if !naming::is_valid(&name) {
        return Err(Error::invalid_input(format!(
            "{name:?} is not a valid bucket name"
        )));
    }
    Ok(name)
}

fn client<'a>(values: &'a Values, secrets: &'a Secrets) -> Result<S3<'a>, Error> {
    S3::new(
        &values.endpoint,
        &values.region,
        &secrets.access_key_id,
        &secrets.secret_key,
    )
}

/// Deletes every object, a page at a time.
fn empty(s3: &S3<'_>, bucket: &str) -> Result<(), Error> {
    let mut deleted = 0usize;
    for _ in 0..MAX_PAGES {
        let Some(page) = s3.list(bucket, 1000)? else {
            return Ok(());
        };
        if page.keys.is_empty() {
            log::info(format!(
                "{}: emptied bucket {bucket} ({deleted} objects)",
                s3.at
            ));
            return Ok(());
        }
        for key in &page.keys {
            s3.delete_object(bucket, key)?;
        }
        deleted += page.keys.len();
    }
    Err(Error::unavailable(format!(
        "{}: bucket {bucket} still holds objects after deleting {deleted}; deleting again continues",
        s3.at
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use podium_driver_sdk::adapter::{self, RawRequest};

    #[test]
    fn info_describes_the_driver() {
        let info = S3Driver::info();
        assert_eq!(info.name, "podium/s3");
        assert_eq!(info.resource_types, ["s3"]);
    }

    #[test]
    fn bad_inputs_fail_before_any_request() {
        let raw = |values: &str, state: Option<&str>| RawRequest {
            driver_values: values.into(),
            driver_secrets: r#"{"access_key_id": "AKIA0000", "secret_key": "sk-123456"}"#.into(),
            state: state.map(str::to_owned),
            ..RawRequest::default()
        };
        let kind = |r| adapter::apply::<S3Driver>(r).err().map(|e| e.kind());
        assert_eq!(
            kind(raw(r#"{"endpoint": "ftp://h"}"#, None)),
            Some("invalid-input")
        );
        assert_eq!(
            kind(raw(
                r#"{"endpoint": "http://h"}"#,
                Some(r#"{"endpoint": "http://h", "region": "r", "bucket": "Bad_Name"}"#)
            )),
            Some("invalid-input")
        );
        // Valid inputs get as far as the (native: missing) HTTP capability.
        assert_eq!(
            kind(raw(r#"{"endpoint": "http://h"}"#, None)),
            Some("unavailable")
        );
    }
}
