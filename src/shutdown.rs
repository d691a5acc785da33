//! Process signals: SIGINT/SIGTERM stop the proxy, SIGHUP reloads routes.

use tokio::signal::unix::{signal, SignalKind};

use crate::app::App;

/// Waits for SIGINT or SIGTERM, reloading routes on each SIGHUP meanwhile.
pub async fn wait_for_stop(app: &App) -> std::io::Result<()> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = int.recv() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => {
                tracing::info!("reloading");
                app.reload_routes();
            }
        }
    }
}
