//! A server running in this process on its own thread and tokio runtime: what
//! `latchkey demo` and the end-to-end tests start on 127.0.0.1, so that phones
//! speak to it over real HTTP on loopback.
//!
//! Invariant: dropping the [`EmbeddedServer`] stops it gracefully and waits for
//! its thread; nothing keeps running after the handle is gone.

use crate::http::AppState;
use crate::{Server, ServerConfig, ServerError};
use latchkey_core::clock::Clock;
use std::net::SocketAddr;
use std::sync::Arc;

/// A running in-process server.
pub struct EmbeddedServer {
    addr: SocketAddr,
    state: AppState,
    new_token: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl std::fmt::Debug for EmbeddedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl EmbeddedServer {
    /// Binds and starts serving on a thread of its own. The listening address is
    /// the config's (use port 0 for an ephemeral one).
    pub fn start(config: ServerConfig, clock: Arc<dyn Clock>) -> Result<Self, ServerError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("latchkey-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|source| ServerError::Io {
                        what: "starting the runtime".into(),
                        source,
                    })?;
                runtime.block_on(async move {
                    let server = match Server::bind(config, clock).await {
                        Ok(server) => server,
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                            return Ok(());
                        }
                    };
                    let token = server
                        .new_integrator_token()
                        .map(|t| t.expose_secret().to_owned());
                    let _ = ready_tx.send(Ok((server.local_addr(), server.state().clone(), token)));
                    server
                        .run(async {
                            let _ = stopped.await;
                        })
                        .await
                })
            })
            .map_err(|source| ServerError::Io {
                what: "starting the server thread".into(),
                source,
            })?;
        let (addr, state, new_token) = ready_rx.recv().map_err(|_| ServerError::Io {
            what: "starting the server".into(),
            source: std::io::Error::other("the server thread ended before it was ready"),
        })??;
        Ok(Self {
            addr,
            state,
            new_token,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's shared state (store, verifier, profile…).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The integrator API token.
    pub fn integrator_token(&self) -> String {
        self.new_token
            .clone()
            .unwrap_or_else(|| self.state.integrator_token.expose_secret().to_owned())
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
