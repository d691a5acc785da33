//! Command-line options, compatible with upstream's `pushpin` runner.

use std::path::PathBuf;

use clap::Parser;

/// Reverse proxy for realtime web services.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "pushpin", disable_version_flag = true)]
pub struct Cli {
    /// Config file.
    #[arg(long, value_name = "file")]
    pub config: Option<PathBuf>,
    /// File to log to.
    #[arg(long, value_name = "file")]
    pub logfile: Option<PathBuf>,
    /// Log level (default: 2); `N` or `N,service:N,...`.
    #[arg(long, visible_alias = "log-level", value_name = "x")]
    pub loglevel: Option<String>,
    /// Verbose output. Same as --loglevel=3.
    #[arg(long)]
    pub verbose: bool,
    /// Combine output of subprocesses (accepted; there are none).
    #[arg(short = 'm', long)]
    pub merge_output: bool,
    /// Run a single HTTP server instance on `[addr:]port`.
    #[arg(long, value_name = "[addr:]port")]
    pub port: Option<String>,
    /// Set instance ID (publish port offset of 10 x ID).
    #[arg(long, value_name = "x")]
    pub id: Option<u32>,
    /// Add route (overrides routes file).
    #[arg(long, value_name = "line")]
    pub route: Vec<String>,
    /// Displays version information.
    #[arg(short = 'v', long)]
    pub version: bool,
}
