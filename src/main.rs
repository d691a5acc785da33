//! The `pushpin` binary: command line → config → logging → runtime → app.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pushpin::app::App;
use pushpin::config::{self, cli::Cli};

/// How long shutdown waits for connections to end: held sessions end at
/// once with their goodbyes, proxied requests still waiting for a backend
/// get this long. Under 10 s, so the process is gone within 10 s of the
/// signal even with a hung backend.
const SHUTDOWN_DEADLINE: Duration = Duration::from_millis(9_500);

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
        let mut signals = match pushpin::shutdown::Signals::install() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot catch signals: {e}");
                return ExitCode::from(1);
            }
        };
        let app = match App::start(config).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        signals.wait_for_stop(&app).await;
        tracing::info!("stopping...");
        tokio::select! {
            _ = app.shutdown(SHUTDOWN_DEADLINE) => tracing::info!("stopped"),
            _ = signals.next_stop() => tracing::warn!("second stop signal: exiting now"),
        }
        ExitCode::SUCCESS
    })
}
