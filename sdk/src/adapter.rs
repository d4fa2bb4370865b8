//! JSON in → typed → JSON out: everything [`export!`](crate::export) does
//! besides calling the generated bindings, as plain functions.
//!
//! They are public so driver authors can exercise a driver natively in unit
//! tests exactly the way the host will call it:
//!
//! ```
//! # use podium_driver_sdk::*;
//! # struct Echo;
//! # impl Driver for Echo {
//! #     type Params = serde_json::Value; type Values = serde_json::Value;
//! #     type Secrets = serde_json::Value; type State = serde_json::Value;
//! #     fn info() -> Info { Info::new("x/echo", "0.1.0") }
//! #     fn plan(_: Request<Self>) -> Result<Plan, Error> { Ok(Plan::create("x")) }
//! #     fn apply(r: Request<Self>) -> Result<Outputs<Self::State>, Error> {
//! #         Ok(Outputs::new().value("p", r.params)) }
//! #     fn delete(_: Request<Self>) -> Result<(), Error> { Ok(()) }
//! # }
//! use podium_driver_sdk::adapter::{apply, RawRequest};
//! let out = apply::<Echo>(RawRequest { params: r#"{"a":1}"#.into(), ..Default::default() })?;
//! assert_eq!(out.values, r#"{"p":{"a":1}}"#);
//! # Ok::<(), Error>(())
//! ```

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Context, Driver, Error, Outputs, Plan, Request, json};

/// A request as the host sends it: JSON documents as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRequest {
    /// Who is asking, for which resource.
    pub context: Context,
    /// JSON object: resource params.
    pub params: String,
    /// JSON object: `driver_inputs.values`.
    pub driver_values: String,
    /// JSON object: `driver_inputs.secrets`.
    pub driver_secrets: String,
    /// JSON: state from the last `apply`.
    pub state: Option<String>,
}

/// Outputs as the host receives them: JSON documents as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawOutputs {
    /// JSON object: output values.
    pub values: String,
    /// JSON object: secret outputs.
    pub secrets: String,
    /// JSON: state to keep, if any.
    pub state: Option<String>,
}

/// Decodes every document of `raw` into the driver's types.
pub fn decode_request<D: Driver + ?Sized>(raw: RawRequest) -> Result<Request<D>, Error> {
    let params = json::decode("params", &json::parse("params", &raw.params)?)?;
    let driver_values = json::decode(
        "driver_values",
        &json::parse("driver_values", &raw.driver_values)?,
    )?;
    let driver_secrets = json::decode_secret(
        "driver_secrets",
        &json::parse("driver_secrets", &raw.driver_secrets)?,
    )?;
    let state = match raw.state.as_deref().map(|s| json::parse("state", s)) {
        None => None,
        Some(parsed) => match parsed? {
            Value::Null => None,
            value => Some(json::decode("state", &value)?),
        },
    };
    Ok(Request {
        context: raw.context,
        params,
        driver_values,
        driver_secrets,
        state,
    })
}

/// Encodes outputs as JSON text.
pub fn encode_outputs<S: Serialize>(outputs: Outputs<S>) -> Result<RawOutputs, Error> {
    let state = match outputs.state {
        None => None,
        Some(state) => Some(
            serde_json::to_string(&state)
                .map_err(|e| Error::failed(format!("cannot serialise the driver state: {e}")))?,
        ),
    };
    Ok(RawOutputs {
        values: object_text(outputs.values),
        secrets: object_text(outputs.secrets),
        state,
    })
}

fn object_text(map: Map<String, Value>) -> String {
    // A map of JSON values always serialises.
    Value::Object(map).to_string()
}

/// Decodes `raw` and calls [`Driver::plan`].
pub fn plan<D: Driver + ?Sized>(raw: RawRequest) -> Result<Plan, Error> {
    D::plan(decode_request(raw)?)
}

/// Decodes `raw`, calls [`Driver::apply`] and encodes its outputs.
pub fn apply<D: Driver + ?Sized>(raw: RawRequest) -> Result<RawOutputs, Error> {
    encode_outputs(D::apply(decode_request(raw)?)?)
}

/// Decodes `raw` and calls [`Driver::delete`].
pub fn delete<D: Driver + ?Sized>(raw: RawRequest) -> Result<(), Error> {
    D::delete(decode_request(raw)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Info;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Values {
        port: u16,
    }

    #[derive(Deserialize)]
    struct Secrets {
        password: String,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct State {
        n: u32,
    }

    struct Typed;

    impl Driver for Typed {
        type Params = Value;
        type Values = Values;
        type Secrets = Secrets;
        type State = State;

        fn info() -> Info {
            Info::new("test/typed", "0.1.0")
        }

        fn plan(req: Request<Self>) -> Result<Plan, Error> {
            Ok(match req.state {
                None => Plan::create("create"),
                Some(_) => Plan::unchanged("same"),
            })
        }

        fn apply(req: Request<Self>) -> Result<Outputs<State>, Error> {
            let n = req.state.map_or(0, |s| s.n) + 1;
            Ok(Outputs::new()
                .value("port", req.driver_values.port)
                .value("params", req.params)
                .secret("password", req.driver_secrets.password)
                .state(State { n }))
        }

        fn delete(_: Request<Self>) -> Result<(), Error> {
            Err(Error::conflict("in use"))
        }
    }

    fn raw(values: &str, secrets: &str, state: Option<&str>) -> RawRequest {
        RawRequest {
            context: Context::default(),
            params: r#"{"x": [1, 2]}"#.into(),
            driver_values: values.into(),
            driver_secrets: secrets.into(),
            state: state.map(Into::into),
        }
    }

    #[test]
    fn apply_round_trips_typed_documents() {
        let out = apply::<Typed>(raw(
            r#"{"port": 5432}"#,
            r#"{"password": "pw"}"#,
            Some(r#"{"n": 4}"#),
        ));
        assert_eq!(
            out,
            Ok(RawOutputs {
                values: r#"{"port":5432,"params":{"x":[1,2]}}"#.into(),
                secrets: r#"{"password":"pw"}"#.into(),
                state: Some(r#"{"n":5}"#.into()),
            })
        );
    }

    #[test]
    fn null_state_reads_as_none() {
        let plan = plan::<Typed>(raw(r#"{"port": 1}"#, r#"{"password": ""}"#, Some("null")));
        assert_eq!(plan.map(|p| p.summary), Ok("create".to_owned()));
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = apply::<Typed>(raw(r#"{"port": "x"}"#, r#"{"password": ""}"#, None)).err();
        assert_eq!(
            err,
            Some(Error::invalid_input(
                "driver_values.port: invalid type: string \"x\", expected u16"
            ))
        );
    }

    #[test]
    fn bad_secrets_hide_the_value() {
        let err = apply::<Typed>(raw(r#"{"port": 1}"#, r#"{"password": 1234}"#, None))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "invalid input: driver_secrets.password: invalid type: integer (value hidden), expected a string"
            )
        );
    }

    #[test]
    fn bad_state_and_bad_json_are_invalid_input() {
        let err = plan::<Typed>(raw(
            r#"{"port": 1}"#,
            r#"{"password": ""}"#,
            Some(r#"{"n": -1}"#),
        ));
        assert_eq!(err.err().map(|e| e.kind()), Some("invalid-input"));
        let err = plan::<Typed>(raw("{", "{}", None))
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("invalid input: driver_values: not valid JSON")));
    }

    #[test]
    fn driver_errors_pass_through() {
        let err = delete::<Typed>(raw(r#"{"port": 1}"#, r#"{"password": ""}"#, None));
        assert_eq!(err, Err(Error::conflict("in use")));
    }

    #[test]
    fn untyped_driver_accepts_anything() {
        struct Untyped;
        impl Driver for Untyped {
            type Params = Value;
            type Values = Value;
            type Secrets = serde::de::IgnoredAny;
            type State = Value;
            fn info() -> Info {
                Info::new("test/untyped", "0.1.0")
            }
            fn plan(_: Request<Self>) -> Result<Plan, Error> {
                Ok(Plan::create(""))
            }
            fn apply(req: Request<Self>) -> Result<Outputs<Value>, Error> {
                Outputs::new().values_from(&req.driver_values)
            }
            fn delete(_: Request<Self>) -> Result<(), Error> {
                Ok(())
            }
        }
        let out = apply::<Untyped>(RawRequest {
            driver_values: json!({"b": 1, "a": 2}).to_string(),
            driver_secrets: "[1]".into(),
            ..RawRequest::default()
        });
        assert_eq!(
            out,
            Ok(RawOutputs {
                values: r#"{"b":1,"a":2}"#.into(),
                secrets: "{}".into(),
                state: None
            })
        );
    }
}
