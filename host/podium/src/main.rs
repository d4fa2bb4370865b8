//! `podium`: the service and the command line.

mod cli;
mod drivers;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
