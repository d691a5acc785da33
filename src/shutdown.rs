//! Process signals: SIGINT/SIGTERM stop the proxy (a second one during
//! shutdown ends it at once), SIGHUP reloads routes.
//!
//! The handlers are installed before the proxy starts, so a signal that
//! arrives while it is still starting is not taken by the default action
//! (which would end the process with the signal instead of cleanly).

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::app::App;

/// The signals the proxy acts on, caught from the moment this is made.
#[derive(Debug)]
pub struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    /// Installs the handlers; needs a tokio runtime.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for SIGINT or SIGTERM (SIGHUP is then ignored): a second stop
    /// signal during shutdown ends the process at once, as upstream's does.
    pub async fn next_stop(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }

    /// Waits for SIGINT or SIGTERM, reloading routes on each SIGHUP meanwhile.
    pub async fn wait_for_stop(&mut self, app: &App) {
        loop {
            tokio::select! {
                _ = self.int.recv() => return,
                _ = self.term.recv() => return,
                _ = self.hup.recv() => {
                    tracing::info!("reloading");
                    app.reload_routes();
                }
            }
        }
    }
}
