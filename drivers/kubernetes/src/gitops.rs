//! GitOps mode (in progress).
use crate::render::Target;
use crate::{Changes, Kubernetes, Prepared, inputs::State};
use podium_driver_sdk::{Error, Request};
pub fn plan(_r: &Request<Kubernetes>, _p: &Prepared) -> Result<Changes, Error> {
    Err(Error::failed("todo"))
}
pub fn apply(_r: &Request<Kubernetes>, _p: &Prepared) -> Result<State, Error> {
    Err(Error::failed("todo"))
}
pub fn delete(_r: &Request<Kubernetes>, _t: &Target) -> Result<(), Error> {
    Err(Error::failed("todo"))
}
