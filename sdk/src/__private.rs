//! Glue between the generated bindings and [`adapter`](crate::adapter), used
//! by [`export!`](crate::export). Not a public API.

use crate::adapter::{self, RawRequest};
use crate::bindings::exports::podium::driver::driver as wit;
use crate::{Action, Context, Driver, Error, Info, Plan};

pub use wit::Guest;
pub use wit::{
    DriverInfo as WitInfo, Error as WitError, Outputs as WitOutputs, PlanResult as WitPlan,
    Request as WitRequest,
};

/// `Driver::info` in WIT types.
pub fn info<D: Driver>() -> WitInfo {
    let Info {
        name,
        version,
        resource_types,
        inputs_schema,
    } = D::info();
    WitInfo {
        name,
        version,
        resource_types,
        inputs_schema,
    }
}

/// `Driver::plan` in WIT types.
pub fn plan<D: Driver>(request: WitRequest) -> Result<WitPlan, WitError> {
    adapter::plan::<D>(raw(request))
        .map(wit_plan)
        .map_err(wit_error)
}

/// `Driver::apply` in WIT types.
pub fn apply<D: Driver>(request: WitRequest) -> Result<WitOutputs, WitError> {
    adapter::apply::<D>(raw(request))
        .map(|out| WitOutputs {
            values: out.values,
            secrets: out.secrets,
            state: out.state,
        })
        .map_err(wit_error)
}

/// `Driver::delete` in WIT types.
pub fn delete<D: Driver>(request: WitRequest) -> Result<(), WitError> {
    adapter::delete::<D>(raw(request)).map_err(wit_error)
}

fn raw(request: WitRequest) -> RawRequest {
    let c = request.context;
    RawRequest {
        context: Context {
            app_id: c.app_id,
            env_id: c.env_id,
            env_type: c.env_type,
            res_id: c.res_id,
            res_type: c.res_type,
            res_class: c.res_class,
            guresid: c.guresid,
            deploy_id: c.deploy_id,
        },
        params: request.params,
        driver_values: request.driver_values,
        driver_secrets: request.driver_secrets,
        state: request.state,
    }
}

fn wit_plan(plan: Plan) -> WitPlan {
    use crate::bindings::podium::driver::types::Action as A;
    WitPlan {
        action: match plan.action {
            Action::Create => A::Create,
            Action::Update => A::Update,
            Action::Unchanged => A::Unchanged,
            Action::Delete => A::Delete,
        },
        summary: plan.summary,
    }
}

/// SDK error → WIT error (shared with the host-capability wrappers).
pub(crate) fn wit_error(error: Error) -> WitError {
    match error {
        Error::InvalidInput(m) => WitError::InvalidInput(m),
        Error::Denied(m) => WitError::Denied(m),
        Error::Unavailable(m) => WitError::Unavailable(m),
        Error::Conflict(m) => WitError::Conflict(m),
        Error::Failed(m) => WitError::Failed(m),
    }
}

/// WIT error → SDK error (for errors the host returns from `sql`).
pub(crate) fn sdk_error(error: WitError) -> Error {
    match error {
        WitError::InvalidInput(m) => Error::InvalidInput(m),
        WitError::Denied(m) => Error::Denied(m),
        WitError::Unavailable(m) => Error::Unavailable(m),
        WitError::Conflict(m) => Error::Conflict(m),
        WitError::Failed(m) => Error::Failed(m),
    }
}
