//! `podium`: the service and the command line.

mod api;
mod auth;
mod cli;
mod defaults;
mod drivers;
mod private_file;
mod secret_key;
mod service;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
