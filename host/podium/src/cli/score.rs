//! `podium score validate`: check Score files the way a deployment would.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::terminal::outln;

#[derive(Debug, Subcommand)]
pub enum ScoreCommand {
    /// Validate Score files (schema and semantics). Prints `FILE: ok` or every
    /// problem as `FILE:LINE: PATH: MESSAGE`; exits 0 only if all are valid.
    /// `-` reads standard input (named `<stdin>`).
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: ScoreCommand) -> ExitCode {
    match cmd {
        ScoreCommand::Validate { files } => {
            let mut ok = true;
            for f in &files {
                match super::input::load_score(f) {
                    Ok(_) => outln!("{}: ok", super::input::name(f)),
                    Err(report) => {
                        ok = false;
                        outln!("{report}");
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
