//! The `pushpin` binary: command line → config → logging → runtime → app.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pushpin::app::App;
use pushpin::config::{self, cli::Cli};

/// How long shutdown waits for sessions to end.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(1);
        }
    };
    if cli.version {
        println!(
            "pushpin {} (Pushpin 1.36 compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    let config = match config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = pushpin::logging::init(config.log_level, cli.logfile.as_deref()) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        if let Some(p) = &config.config_file {
            tracing::info!(path = %p.display(), "using config");
        }
        let app = match App::start(config).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        if let Err(e) = pushpin::shutdown::wait_for_stop(&app).await {
            tracing::error!(error = %e, "cannot wait for signals");
        }
        tracing::info!("stopping...");
        app.shutdown(SHUTDOWN_DEADLINE).await;
        tracing::info!("stopped");
        ExitCode::SUCCESS
    })
}
