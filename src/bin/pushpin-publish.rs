//! The `pushpin-publish` binary: command line → [`pushpin::publish_cli`] →
//! `Published` on stdout (status 0) or `Error: …` on stderr (status 1).

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;
use pushpin::publish_cli::{self, args, Args};

fn main() -> ExitCode {
    let args = match Args::try_parse_from(args::clap2_argv(std::env::args_os())) {
        Ok(a) => a,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        // 1.36's clap 2 exits 1 on a bad command line (clap 4 would say 2)
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(1);
        }
    };
    let default_spec = args::default_spec(std::env::var("GRIP_URL").ok());
    match args
        .into_publish(default_spec)
        .and_then(|p| publish_cli::run(&p))
    {
        Ok(()) => {
            println!("Published");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}
