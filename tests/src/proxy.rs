//! A TCP proxy between the app and the server that fails on command: answers 500, resets
//! connections, stalls, cuts responses short, drops an event of a stream, or makes a stream
//! replay the whole log; it can also hold back the answers to one kind of request while
//! everything else passes, and counts the answers it forwards by status and the streamed
//! events. It runs on its own thread and runtime, so that it keeps working whatever the test's
//! runtime is doing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// How the proxy treats traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Forward everything.
    None = 0,
    /// Answer every new request `500 Internal Server Error` without a body.
    Error500 = 1,
    /// Reset new and open connections (TCP RST).
    Reset = 2,
    /// Connections open when the fault is set go silent (nothing more is forwarded back to
    /// the client); new connections work.
    Stall = 3,
    /// Forward a response's head but only half of the body bytes at hand, then close.
    Truncate = 4,
    /// Forward everything but the next event of an event stream (one chunk of a chunked
    /// body that holds a `data:` line), once; then the fault is back to `None`.
    DropEvent = 5,
    /// Forward everything, but the next request with a `Last-Event-ID` asks for the events
    /// after 0 instead: the server replays the whole log onto what the client has. Once; then
    /// the fault is back to `None`.
    Rewind = 6,
}

impl Fault {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Error500,
            2 => Self::Reset,
            3 => Self::Stall,
            4 => Self::Truncate,
            5 => Self::DropEvent,
            6 => Self::Rewind,
            _ => Self::None,
        }
    }
}

#[derive(Debug)]
struct Shared {
    fault: AtomicU8,
    upstream: Mutex<String>,
    connections: AtomicU64,
    /// Connections numbered below this one stall while the fault is `Stall`.
    stall_before: AtomicU64,
    /// Answers to requests whose request line starts with this are held back until released.
    hold: Mutex<Option<String>>,
    /// Answers being held back now.
    holding: AtomicU64,
    /// Answers forwarded, by HTTP status.
    statuses: Mutex<HashMap<u16, u64>>,
    /// Events of event streams forwarded.
    events: AtomicU64,
    /// Requests with a `Last-Event-ID` forwarded: event streams opened.
    streams: AtomicU64,
}

/// The proxy; it stops with the test process.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            fault: AtomicU8::new(Fault::None as u8),
            upstream: Mutex::new(host_port(upstream)?),
            connections: AtomicU64::new(0),
            stall_before: AtomicU64::new(0),
            hold: Mutex::new(None),
            holding: AtomicU64::new(0),
            statuses: Mutex::new(HashMap::new()),
            events: AtomicU64::new(0),
            streams: AtomicU64::new(0),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else {
                    return;
                };
                while let Ok((client, _)) = listener.accept().await {
                    let id = accepting.connections.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve(client, Arc::clone(&accepting), id));
                }
            });
        });
        Ok(Self { url, shared })
    }

    /// Switches the fault (open connections notice it at their next chunk).
    pub fn set(&self, fault: Fault) {
        if fault == Fault::Stall {
            let open = self.shared.connections.load(Ordering::SeqCst);
            self.shared.stall_before.store(open, Ordering::SeqCst);
        }
        self.shared.fault.store(fault as u8, Ordering::SeqCst);
    }

    /// The fault in force (a `DropEvent` that has dropped its event, or a `Rewind` that has
    /// rewound its request, is `None` again).
    pub fn current(&self) -> Fault {
        fault(&self.shared)
    }

    /// Points the proxy at another server address (after a restart on a new port).
    pub fn retarget(&self, upstream: &str) -> anyhow::Result<()> {
        *lock(&self.shared.upstream) = host_port(upstream)?;
        Ok(())
    }

    /// How many connections the proxy has accepted.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// From now on, the answers to requests whose request line starts with `request` (e.g.
    /// `"DELETE /api/users/me/sessions/"`) reach the server's answer but not the client, until
    /// [`Self::release`]; other requests pass.
    pub fn hold(&self, request: &str) {
        *lock(&self.shared.hold) = Some(request.to_owned());
    }

    /// Lets held answers through, and holds no more.
    pub fn release(&self) {
        *lock(&self.shared.hold) = None;
    }

    /// How many answers are held back now.
    pub fn holding(&self) -> u64 {
        self.shared.holding.load(Ordering::SeqCst)
    }

    /// How many answers with HTTP `status` the proxy has forwarded to the client.
    pub fn answered(&self, status: u16) -> u64 {
        lock(&self.shared.statuses)
            .get(&status)
            .copied()
            .unwrap_or(0)
    }

    /// How many events of event streams (`data:` lines) the proxy has forwarded to clients.
    pub fn events(&self) -> u64 {
        self.shared.events.load(Ordering::SeqCst)
    }

    /// How many event streams clients have opened through the proxy (requests with a
    /// `Last-Event-ID`).
    pub fn streams(&self) -> u64 {
        self.shared.streams.load(Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `chunk`, sent by the client, begins a request that is to be held.
fn to_hold(shared: &Shared, chunk: &[u8]) -> bool {
    lock(&shared.hold)
        .as_deref()
        .is_some_and(|request| chunk.starts_with(request.as_bytes()))
}

/// Counts the status of a response that `chunk` begins (`HTTP/1.1 401 ...`).
fn count_status(shared: &Shared, chunk: &[u8]) {
    let status = chunk
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse::<u16>().ok());
    if let Some(status) = status {
        *lock(&shared.statuses).entry(status).or_default() += 1;
    }
}

/// Counts the events (`data:` lines) in `bytes`, forwarded to a client. A line begins after
/// a line break, which JSON data cannot hold unescaped, and the line that begins a chunk comes
/// after the chunk's size line.
fn count_events(shared: &Shared, bytes: &[u8]) {
    let n = bytes.windows(6).filter(|w| w == b"\ndata:").count();
    shared.events.fetch_add(n as u64, Ordering::SeqCst);
}

/// `request` asking for the events after 0 in its `Last-Event-ID` header (of any case), when
/// it has one; `None` otherwise (forwarded unchanged).
fn rewound(request: &[u8]) -> Option<Vec<u8>> {
    const NAME: &[u8] = b"\r\nlast-event-id:";
    let lower = request.to_ascii_lowercase();
    let value = lower.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
    let end = value + lower[value..].windows(2).position(|w| w == b"\r\n")?;
    Some([&request[..value], b" 0", &request[end..]].concat())
}

fn host_port(url: &str) -> anyhow::Result<String> {
    url.strip_prefix("http://")
        .map(|s| s.trim_end_matches('/').to_owned())
        .context("the upstream must be http://HOST:PORT")
}

fn fault(shared: &Shared) -> Fault {
    Fault::from_u8(shared.fault.load(Ordering::SeqCst))
}

/// The fault as it applies to connection `id`: a stall only silences older connections.
fn fault_for(shared: &Shared, id: u64) -> Fault {
    match fault(shared) {
        Fault::Stall if id >= shared.stall_before.load(Ordering::SeqCst) => Fault::None,
        f => f,
    }
}

/// `bytes` without the first chunk (of a chunked body) that holds an event's `data:` line, when
/// `bytes` is a run of whole chunks that has one; `None` otherwise (forwarded unchanged).
fn without_first_event(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut kept = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    let mut dropped = false;
    while !rest.is_empty() {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?, 16).ok()?;
        let frame_end = line_end + 2 + size + 2;
        let frame = rest.get(..frame_end)?;
        let payload = &frame[line_end + 2..line_end + 2 + size];
        if !dropped && payload.windows(5).any(|w| w == b"data:") {
            dropped = true;
        } else {
            kept.extend_from_slice(frame);
        }
        rest = &rest[frame_end..];
    }
    dropped.then_some(kept)
}

fn reset(stream: TcpStream) {
    // Zero linger: closing sends RST instead of FIN.
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn serve(mut client: TcpStream, shared: Arc<Shared>, id: u64) {
    match fault_for(&shared, id) {
        Fault::Reset => return reset(client),
        Fault::Error500 => {
            let mut buf = [0u8; 8192];
            let _ = client.read(&mut buf).await;
            let _ = client
                .write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            return;
        }
        Fault::None | Fault::Truncate | Fault::Stall | Fault::DropEvent | Fault::Rewind => {}
    }
    let upstream = lock(&shared.upstream).clone();
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return reset(client);
    };
    // Set when the client sent a request whose answer is to be held (before the request goes
    // on, so that its answer cannot pass first).
    let held = AtomicBool::new(false);
    let must_reset = {
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let upload = async {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if to_hold(&shared, &buf[..n]) {
                    held.store(true, Ordering::SeqCst);
                }
                // A request that opens an event stream; under `Rewind`, the first one (of two at
                // the same moment, one) asks for everything.
                let rewritten = rewound(&buf[..n]);
                if rewritten.is_some() {
                    shared.streams.fetch_add(1, Ordering::SeqCst);
                }
                let rewritten = rewritten.filter(|_| {
                    shared
                        .fault
                        .compare_exchange(
                            Fault::Rewind as u8,
                            Fault::None as u8,
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        )
                        .is_ok()
                });
                let out = rewritten.as_deref().unwrap_or(&buf[..n]);
                if server_write.write_all(out).await.is_err() {
                    break;
                }
            }
            let _ = server_write.shutdown().await;
            std::future::pending::<()>().await;
        };
        let download = async {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = tokio::select! {
                    n = server_read.read(&mut buf) => match n {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => n,
                    },
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        if fault_for(&shared, id) == Fault::Reset {
                            return true;
                        }
                        continue;
                    }
                };
                if held.swap(false, Ordering::SeqCst) {
                    shared.holding.fetch_add(1, Ordering::SeqCst);
                    while lock(&shared.hold).is_some() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    shared.holding.fetch_sub(1, Ordering::SeqCst);
                }
                count_status(&shared, &buf[..n]);
                match fault_for(&shared, id) {
                    Fault::None | Fault::Rewind => {
                        count_events(&shared, &buf[..n]);
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            return false;
                        }
                    }
                    Fault::DropEvent => {
                        // Once: of two connections with an event at the same moment, one
                        // drops it.
                        let kept = without_first_event(&buf[..n]).filter(|_| {
                            shared
                                .fault
                                .compare_exchange(
                                    Fault::DropEvent as u8,
                                    Fault::None as u8,
                                    Ordering::SeqCst,
                                    Ordering::SeqCst,
                                )
                                .is_ok()
                        });
                        let out = kept.as_deref().unwrap_or(&buf[..n]);
                        count_events(&shared, out);
                        if client_write.write_all(out).await.is_err() {
                            return false;
                        }
                    }
                    Fault::Truncate => {
                        // Keep a response head whole, so that what breaks is the body.
                        let chunk = &buf[..n];
                        let body_from = chunk
                            .windows(4)
                            .position(|w| w == b"\r\n\r\n")
                            .map_or(0, |i| i + 4);
                        let keep = body_from + (n - body_from) / 2;
                        let _ = client_write.write_all(&chunk[..keep]).await;
                        return false;
                    }
                    Fault::Stall => {
                        // Swallow everything from now on; the client hears nothing.
                        while fault_for(&shared, id) == Fault::Stall {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        return false;
                    }
                    Fault::Reset | Fault::Error500 => return true,
                }
            }
        };
        tokio::select! {
            r = download => r,
            () = upload => false,
        }
    };
    if must_reset {
        reset(client);
    }
}

#[cfg(test)]
mod tests {
    use super::{rewound, without_first_event};

    #[test]
    fn a_rewound_request_asks_for_every_event_and_keeps_the_rest() {
        let request = b"GET /api/workspaces/acme/events/ HTTP/1.1\r\ncookie: s=1\r\n\
            last-event-id: 42\r\naccept: text/event-stream\r\n\r\n";
        assert_eq!(
            rewound(request).as_deref(),
            Some(
                &b"GET /api/workspaces/acme/events/ HTTP/1.1\r\ncookie: s=1\r\n\
                last-event-id: 0\r\naccept: text/event-stream\r\n\r\n"[..]
            )
        );
        assert_eq!(
            rewound(b"GET / HTTP/1.1\r\nLast-Event-ID: 7\r\n\r\n").as_deref(),
            Some(&b"GET / HTTP/1.1\r\nLast-Event-ID: 0\r\n\r\n"[..])
        );
        // No such header, or a head cut short before its value ends: left as it is.
        assert_eq!(rewound(b"GET / HTTP/1.1\r\naccept: */*\r\n\r\n"), None);
        assert_eq!(rewound(b"GET / HTTP/1.1\r\nlast-event-id: 4"), None);
    }

    #[test]
    fn the_first_chunk_with_an_event_goes_and_the_rest_stays() {
        let heartbeat = b"d\r\n: heartbeat\n\n\r\n";
        let first = b"17\r\nid: 7\nevent: e\ndata: 1\n\r\n";
        let second = b"17\r\nid: 8\nevent: e\ndata: 2\n\r\n";
        let run = [&heartbeat[..], first, second].concat();
        assert_eq!(
            without_first_event(&run),
            Some([&heartbeat[..], second].concat())
        );
        // No event, a response head, or a chunk cut short: left as it is.
        assert_eq!(without_first_event(heartbeat), None);
        assert_eq!(without_first_event(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(without_first_event(&first[..10]), None);
    }
}
