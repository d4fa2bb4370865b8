//! The trait a driver implements and the typed request it receives.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Context, Error, Info, Outputs, Plan};

/// A Podium driver. Implement it on a unit struct and hand that struct to
/// [`export!`](crate::export).
///
/// The four associated types say how the JSON documents of a request are
/// decoded. Use your own `#[derive(Deserialize)]` structs for typed access,
/// [`serde_json::Value`] (or a `Map`) for untyped drivers, and
/// [`serde::de::IgnoredAny`] for documents you do not read. A document that
/// does not decode is answered with [`Error::InvalidInput`] naming the bad
/// field, before your method runs.
pub trait Driver: 'static {
    /// The resource `params` from the workload.
    type Params: DeserializeOwned;
    /// The definition's `driver_inputs.values`.
    type Values: DeserializeOwned;
    /// The definition's `driver_inputs.secrets`. Never log these.
    type Secrets: DeserializeOwned;
    /// What the driver keeps between calls (returned by `apply`).
    type State: Serialize + DeserializeOwned;

    /// Describes the driver. Must not have side effects.
    fn info() -> Info;

    /// Says what `apply` would do, without side effects.
    fn plan(req: Request<Self>) -> Result<Plan, Error>;

    /// Creates or updates the resource; must be idempotent.
    fn apply(req: Request<Self>) -> Result<Outputs<Self::State>, Error>;

    /// Removes the resource; deleting something already gone succeeds.
    fn delete(req: Request<Self>) -> Result<(), Error>;
}

/// One call's input, decoded into the driver's types.
pub struct Request<D: Driver + ?Sized> {
    /// Who is asking, for which resource.
    pub context: Context,
    /// The resource `params` from the workload (never secret).
    pub params: D::Params,
    /// The definition's `driver_inputs.values`, placeholders resolved.
    pub driver_values: D::Values,
    /// The definition's `driver_inputs.secrets`, placeholders resolved.
    pub driver_secrets: D::Secrets,
    /// What the last `apply` returned as state; `None` on first creation
    /// (a stored JSON `null` also reads as `None`).
    pub state: Option<D::State>,
}

// Hand-written so that secrets never end up in a `{:?}`.
impl<D: Driver + ?Sized> std::fmt::Debug for Request<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("context", &self.context)
            .field("params", &std::any::type_name::<D::Params>())
            .field("driver_values", &std::any::type_name::<D::Values>())
            .field("driver_secrets", &"<hidden>")
            .field("state", &self.state.as_ref().map(|_| "<state>"))
            .finish()
    }
}
