//! Test support shared by the test suites: the hostile test guest (built by
//! this crate's build script from `tests/guests/hostile`) and small helpers.

mod components {
    include!(concat!(env!("OUT_DIR"), "/components.rs"));
}

/// The component of `tests/guests/hostile`: a driver that misbehaves on
/// demand (`params.mode`: loop, memhog, panic, oversize, fail, http, sql,
/// sleep, probe, log, fs, tls, count, ok).
pub const HOSTILE: &[u8] = components::HOSTILE;
