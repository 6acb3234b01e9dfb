//! The HTTP server's connection loop: accepting TCP connections up to a cap and
//! serving each with HTTP/1.1 under timeouts, so that idle, slowly trickled or
//! abandoned connections cannot pile up until the file descriptors run out
//! (docs/PROTOCOL.md §7, "Connections").
//!
//! Invariants:
//! - at most [`ConnectionLimits::max_connections`] connections are open at once;
//!   at the cap the loop stops accepting (new clients wait in the kernel's
//!   backlog) until a connection ends;
//! - a connection with no request in progress is closed when it sends nothing
//!   for the idle timeout, or when a request head it started is not complete
//!   within the header timeout; a request in progress (a long-poll waiting for a
//!   decision included) is never cut by these two;
//! - a request body must arrive within the body timeout after its head; a late
//!   one fails to read, and the JSON extractor answers `408 body_timeout`;
//! - writing an answer the client does not read fails after the write-stall
//!   timeout;
//! - each request carries its client's address as `ConnectInfo<SocketAddr>`;
//! - on shutdown the loop stops accepting, asks every connection to close after
//!   its request in progress, and returns when all are closed.

use crate::config::ConnectionLimits;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// A request body that did not arrive within the body timeout. The JSON
/// extractor finds it in the body error's sources and answers 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub(crate) struct BodyReadTimeout;

/// Serves `app` on `listener` until `shutdown` completes, then waits for every
/// connection to close.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // `biased`: the shutdown signal is polled first, every time, so that it is
        // watched from the first iteration on even while connections keep coming.
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.map_err(io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    drop(slot);
                    if !matches!(
                        error.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) {
                        // Out of file descriptors, most likely: wait for some to close.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            stream,
            peer,
            app.clone(),
            limits,
            stopping.clone(),
            slot,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots back means all closed.
    let _all_closed = slots
        .acquire_many(limits.max_connections)
        .await
        .map_err(io::Error::other)?;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(TimedIo::new(stream, activity.clone(), limits));
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_progress = RequestInProgress::start(&activity);
        let deadline = Instant::now() + limits.body_read_timeout;
        let mut request = request.map(|body| Body::new(DeadlineBody::new(body, deadline)));
        request.extensions_mut().insert(ConnectInfo(peer));
        let answer = app.clone().oneshot(request);
        async move {
            let response = answer.await;
            drop(in_progress);
            response
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
            connection.as_mut().graceful_shutdown();
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
    }
}

/// What a connection is doing, shared by its socket wrapper and its requests.
#[derive(Debug)]
struct Activity(Mutex<ActivityState>);

#[derive(Debug)]
struct ActivityState {
    /// Requests whose answer is not yet made.
    in_progress: usize,
    /// When the connection last became free of requests (or opened).
    idle_since: Instant,
    /// When the first byte of the next request's head arrived, if one has.
    head_started: Option<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self(Mutex::new(ActivityState {
            in_progress: 0,
            idle_since: Instant::now(),
            head_started: None,
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bytes_read(&self) {
        let mut state = self.state();
        if state.in_progress == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
        }
    }

    /// Until when a read may wait: none while a request is in progress (its
    /// body has its own deadline, a long-poll may wait); else the header
    /// deadline once a head started, the idle deadline before.
    fn read_deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let state = self.state();
        if state.in_progress > 0 {
            return None;
        }
        Some(match state.head_started {
            Some(started) => started + limits.header_read_timeout,
            None => state.idle_since + limits.idle_timeout,
        })
    }
}

/// Marks a request in progress on its connection until dropped.
struct RequestInProgress(Arc<Activity>);

impl RequestInProgress {
    fn start(activity: &Arc<Activity>) -> Self {
        let mut state = activity.state();
        state.in_progress += 1;
        state.head_started = None;
        drop(state);
        Self(activity.clone())
    }
}

impl Drop for RequestInProgress {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_progress = state.in_progress.saturating_sub(1);
        if state.in_progress == 0 {
            state.idle_since = Instant::now();
            state.head_started = None;
        }
    }
}

/// The TCP stream with the idle, header and write-stall deadlines: a read or
/// write that would wait past its deadline fails with `TimedOut`, which ends the
/// connection.
struct TimedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    limits: ConnectionLimits,
    read_timer: Pin<Box<Sleep>>,
    read_deadline: Option<Instant>,
    write_timer: Pin<Box<Sleep>>,
    write_stalled: bool,
}

impl TimedIo {
    fn new(stream: TcpStream, activity: Arc<Activity>, limits: ConnectionLimits) -> Self {
        let now = Instant::now();
        Self {
            stream,
            activity,
            limits,
            read_timer: Box::pin(tokio::time::sleep_until(now)),
            read_deadline: None,
            write_timer: Box::pin(tokio::time::sleep_until(now)),
            write_stalled: false,
        }
    }

    fn timed_out(what: &str) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
    }

    /// After a write returned `poll`: arms the stall timer on the first
    /// `Pending`, fails once it fires, disarms on progress.
    fn time_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(result) => {
                self.write_stalled = false;
                Poll::Ready(result)
            }
            Poll::Pending => {
                if !self.write_stalled {
                    self.write_stalled = true;
                    let deadline = Instant::now() + self.limits.write_stall_timeout;
                    self.write_timer.as_mut().reset(deadline);
                }
                match self.write_timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(Self::timed_out("writing the answer"))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.activity.bytes_read();
                }
                this.read_deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let Some(deadline) = this.activity.read_deadline(&this.limits) else {
                    this.read_deadline = None;
                    return Poll::Pending;
                };
                if this.read_deadline != Some(deadline) {
                    this.read_timer.as_mut().reset(deadline);
                    this.read_deadline = Some(deadline);
                }
                match this.read_timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(Self::timed_out("waiting for a request"))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, data);
        this.time_write(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, data);
        this.time_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_flush(cx);
        this.time_write(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.time_write(cx, poll)
    }
}

/// A request body that fails with [`BodyReadTimeout`] once its deadline passes.
struct DeadlineBody {
    inner: Incoming,
    timer: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, deadline: Instant) -> Self {
        Self {
            inner,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|frame| frame.map_err(Into::into))),
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyReadTimeout)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `error`, or an error it was caused by, is a [`BodyReadTimeout`].
pub(crate) fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<BodyReadTimeout>() {
            return true;
        }
        next = error.source();
    }
    false
}
