//! `podium`: the service and the command line.

mod api;
mod cli;
mod defaults;
mod drivers;
mod service;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
