//! `tracing` setup from Pushpin's log levels (0 error … 4 trace); `RUST_LOG`
//! overrides when set.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::path::Path;

use tracing_subscriber::EnvFilter;

/// The `tracing` level for a Pushpin log level.
pub fn level_name(level: u8) -> &'static str {
    match level {
        0 => "error",
        1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    }
}

/// Installs the global subscriber, writing to `logfile` (appended) or stdout.
pub fn init(level: u8, logfile: Option<&Path>) -> std::io::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("pushpin={}", level_name(level))));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match logfile {
        Some(p) => {
            let f = OpenOptions::new().create(true).append(true).open(p)?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init();
        }
        None => builder.with_ansi(std::io::stdout().is_terminal()).init(),
    }
    Ok(())
}
