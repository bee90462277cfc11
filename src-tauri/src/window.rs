//! The window in a process of its own. The app process holds the engine, the sync, the tray
//! and the notifications, and never builds a webview; when the window opens, it starts
//! `setget-admin --window`, whose only part is the webview and which forwards every command
//! of the page's to the app process and shows every event the app process sends. Closing the
//! window ends that process, and WebKit's processes with it: what the window's libraries and
//! WebKit held goes with them, while the app process watches on from the tray.
//!
//! The two talk over a socket pair made when the window process starts: its end is the
//! window process's standard input, so no other process can reach it (nothing is bound in
//! the file system). One JSON [`Message`] per line; the page's calls carry an id, answered in
//! any order.

mod dispatch;

use std::collections::HashMap;
use std::os::fd::AsFd as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use setget_core::{CoreError, ErrorKind};
use tauri::ipc::{Invoke, InvokeBody, InvokeError, InvokeResponseBody};
use tauri::{AppHandle, Emitter as _, Manager as _, WebviewWindow, WebviewWindowBuilder};
use tauri_plugin_window_state::AppHandleExt as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

use crate::desktop;

/// The argument that makes `setget-admin` the window process.
pub const WINDOW_ARG: &str = "--window";

/// What crosses the socket between the app process and the window process.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Message {
    /// Window → app: one of the page's commands, with its arguments by camelCase key.
    Call {
        id: u64,
        command: String,
        args: Map<String, Value>,
    },
    /// App → window: the answer to the call `id` (`ok` false: the page's call rejects with
    /// `value`).
    Answer { id: u64, ok: bool, value: Value },
    /// App → window: an event for the page.
    Event { name: String, payload: Value },
    /// App → window: come forward (unminimized, shown, focused).
    Show,
    /// Window → app: the window is closing, so the process ends: a window asked for from
    /// now on is a new one.
    Closing,
}

/// Takes the socket onto the async runtime (from whichever thread: the tray's, a
/// notification's task, the setup) and runs `serve` on its reading half, while the messages
/// sent to the returned channel are written to it, one line each, until the channel or the
/// socket closes.
fn connect<F, Fut>(
    socket: std::os::unix::net::UnixStream,
    serve: F,
) -> mpsc::UnboundedSender<Message>
where
    F: FnOnce(tokio::net::unix::OwnedReadHalf, mpsc::UnboundedSender<Message>) -> Fut
        + Send
        + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let out = tx.clone();
    tauri::async_runtime::spawn(async move {
        let (reader, mut writer) = match UnixStream::from_std(socket) {
            Ok(stream) => stream.into_split(),
            Err(e) => {
                tracing::warn!(error = %e, "the window's socket could not be used");
                return;
            }
        };
        tauri::async_runtime::spawn(async move {
            while let Some(message) = rx.recv().await {
                let Ok(mut line) = serde_json::to_vec(&message) else {
                    continue;
                };
                line.push(b'\n');
                if writer.write_all(&line).await.is_err() {
                    break;
                }
            }
        });
        serve(reader, out).await;
    });
    tx
}

// ---------------------------------------------------------------------------------------------
// The app process's side.

/// The app process's link to its window process, if one runs.
#[derive(Debug, Default)]
pub struct Link {
    window: Mutex<Option<Peer>>,
    /// Which window process is the current one (a late end of an earlier one changes nothing).
    started: AtomicU64,
}

#[derive(Debug)]
struct Peer {
    out: mpsc::UnboundedSender<Message>,
    number: u64,
}

impl Link {
    fn window(&self) -> std::sync::MutexGuard<'_, Option<Peer>> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The window process `number` is going (closing) or gone: it is no longer the window.
    /// False when another window has started since, which is the window now.
    fn forget(&self, number: u64) -> bool {
        let mut window = self.window();
        if window.as_ref().is_some_and(|peer| peer.number != number) {
            return false;
        }
        *window = None;
        true
    }
}

/// Whether the window is open (its process runs).
pub fn is_open(app: &AppHandle) -> bool {
    app.try_state::<Link>()
        .is_some_and(|link| link.window().is_some())
}

/// Shows the window: the running one comes forward, or a window process starts.
pub fn open(app: &AppHandle) {
    let Some(link) = app.try_state::<Link>() else {
        return;
    };
    let mut window = link.window();
    if let Some(peer) = &*window {
        let _ = peer.out.send(Message::Show);
        return;
    }
    let number = link.started.fetch_add(1, Ordering::SeqCst) + 1;
    match start(app, number) {
        Ok(out) => *window = Some(Peer { out, number }),
        Err(e) => {
            tracing::warn!(error = %e, "the window could not be opened");
            if !desktop::stays_without_window(app) {
                // Nothing to come back from: no window, and no tray watching.
                app.exit(1);
            }
        }
    }
}

/// Sends the page an event; a window that is not open misses it.
/// (The payload is encoded only then: the sync's status changes many times a second during
/// a first sync, with the window as often closed.)
pub fn send_event(app: &AppHandle, name: &str, payload: &impl Serialize) {
    if let Some(link) = app.try_state::<Link>()
        && let Some(peer) = &*link.window()
    {
        match serde_json::to_value(payload) {
            Ok(payload) => {
                let _ = peer.out.send(Message::Event {
                    name: name.to_owned(),
                    payload,
                });
            }
            Err(e) => tracing::debug!(error = %e, event = name, "an event was not sent"),
        }
    }
}

/// Starts the window process, its socket's other end as its standard input, and serves its
/// calls until it ends.
fn start(app: &AppHandle, number: u64) -> anyhow::Result<mpsc::UnboundedSender<Message>> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command.arg(WINDOW_ARG);
    crate::rendering::restore_for_window(&mut command);
    if app.state::<crate::shell::Shell>().demo.is_some() {
        command.arg("--demo");
    }
    let mut child = command
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .spawn()?;
    // Its calls, each answered on a task of its own as it completes.
    let served = app.clone();
    let out = connect(ours, move |reader, answers| async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let (id, command, args) = match serde_json::from_str(&line) {
                Ok(Message::Call { id, command, args }) => (id, command, args),
                Ok(Message::Closing) => {
                    served.state::<Link>().forget(number);
                    continue;
                }
                _ => {
                    // The line is not repeated: it may hold a password.
                    tracing::warn!("the window process sent a line that is not a call");
                    continue;
                }
            };
            let (app, answers) = (served.clone(), answers.clone());
            tauri::async_runtime::spawn(async move {
                let (ok, value) = match dispatch::call(&app, &command, &args).await {
                    Ok(value) => (true, value),
                    Err(value) => (false, value),
                };
                let _ = answers.send(Message::Answer { id, ok, value });
            });
        }
    });
    // Its end: the app stays in the tray, or ends with it.
    let app = app.clone();
    std::thread::Builder::new()
        .name("window-process".into())
        .spawn(move || {
            let failed = match child.wait() {
                Ok(status) if !status.success() => {
                    tracing::warn!(%status, "the window process ended");
                    true
                }
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "the window process was lost");
                    true
                }
            };
            ended(&app, number, failed);
        })?;
    Ok(out)
}

/// The window process `number` has ended (`failed`: not as a closed window does).
fn ended(app: &AppHandle, number: u64, failed: bool) {
    if !app.state::<Link>().forget(number) {
        // A new window opened while this one closed.
        return;
    }
    if desktop::stays_without_window(app) {
        desktop::release_memory(app);
    } else {
        app.exit(i32::from(failed));
    }
}

/// An argument of the page's call, read by its camelCase key (a missing one reads as `null`,
/// which an optional argument takes as absent).
fn arg<T: serde::de::DeserializeOwned>(args: &Map<String, Value>, key: &str) -> Result<T, Value> {
    T::deserialize(args.get(key).unwrap_or(&Value::Null)).map_err(|e| {
        error(
            ErrorKind::InvalidInput,
            format!("the argument {key} is not valid: {e}"),
        )
    })
}

fn answer<T: Serialize>(value: T) -> Result<Value, Value> {
    serde_json::to_value(value).map_err(|e| error(ErrorKind::Internal, e.to_string()))
}

fn answer_result<T: Serialize>(value: Result<T, CoreError>) -> Result<Value, Value> {
    match value {
        Ok(value) => answer(value),
        Err(e) => Err(serde_json::to_value(e).unwrap_or(Value::Null)),
    }
}

fn unknown_command(command: &str) -> Value {
    let mut shown: String = command.chars().take(64).collect();
    shown.retain(|c| !c.is_control());
    error(
        ErrorKind::InvalidInput,
        format!("the app has no command {shown:?}"),
    )
}

fn error(kind: ErrorKind, message: impl Into<String>) -> Value {
    serde_json::to_value(CoreError::new(kind, message)).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------------
// The window process's side.

/// The window process's calls waiting for their answers.
#[derive(Default)]
struct Calls {
    out: Mutex<Option<mpsc::UnboundedSender<Message>>>,
    waiting: Mutex<HashMap<u64, oneshot::Sender<(bool, Value)>>>,
    next: AtomicU64,
}

impl Calls {
    /// Sends `command` to the app process and waits for its answer.
    async fn call(&self, command: String, args: Map<String, Value>) -> Result<Value, Value> {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert(id, tx);
        let sent = lock(&self.out)
            .as_ref()
            .is_some_and(|out| out.send(Message::Call { id, command, args }).is_ok());
        let gone = || error(ErrorKind::Internal, "the app process is gone");
        if !sent {
            lock(&self.waiting).remove(&id);
            return Err(gone());
        }
        match rx.await {
            Ok((true, value)) => Ok(value),
            Ok((false, value)) => Err(value),
            Err(_) => Err(gone()),
        }
    }

    /// The link to the app process closed: every call waiting, and any new one, fails.
    fn close(&self) {
        *lock(&self.out) = None;
        lock(&self.waiting).clear();
    }

    fn answered(&self, id: u64, ok: bool, value: Value) {
        if let Some(tx) = lock(&self.waiting).remove(&id) {
            let _ = tx.send((ok, value));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hands one of the page's calls to the app process; its answer resolves (or rejects) the
/// page's promise.
fn forward(invoke: Invoke) -> bool {
    let calls = Arc::clone(&invoke.message.webview().state::<Arc<Calls>>());
    let command = invoke.message.command().to_owned();
    let args = match invoke.message.payload() {
        InvokeBody::Json(Value::Object(args)) => args.clone(),
        InvokeBody::Json(Value::Null) => Map::new(),
        _ => {
            invoke.resolver.reject(error(
                ErrorKind::InvalidInput,
                "a command's arguments are an object",
            ));
            return true;
        }
    };
    invoke.resolver.respond_async_serialized(async move {
        match calls.call(command, args).await {
            Ok(value) => Ok(InvokeResponseBody::Json(value.to_string())),
            Err(value) => Err(InvokeError(value)),
        }
    });
    true
}

/// Runs the window process: `setget-admin --window`, started by the app process with the
/// socket as its standard input. It ends when its window closes or the app process ends.
pub fn run(demo: bool) -> anyhow::Result<std::process::ExitCode> {
    let socket =
        std::os::unix::net::UnixStream::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    if socket.peer_addr().is_err() {
        anyhow::bail!("the window process is started by the app, with its socket as input");
    }
    socket.set_nonblocking(true)?;
    let calls = Arc::new(Calls::default());
    let mut builder = tauri::Builder::default();
    if !demo {
        builder = builder.plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(desktop::WINDOW_STATE)
                .build(),
        );
    }
    let app = builder
        .manage(Arc::clone(&calls))
        .setup(move |app| {
            let handle = app.handle().clone();
            let served = Arc::clone(&calls);
            let out = connect(socket, move |reader, _| async move {
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    match serde_json::from_str(&line) {
                        Ok(Message::Answer { id, ok, value }) => served.answered(id, ok, value),
                        Ok(Message::Event { name, payload }) => {
                            if let Err(e) = handle.emit(&name, payload) {
                                tracing::debug!(error = %e, event = name, "an event was missed");
                            }
                        }
                        Ok(Message::Show) => {
                            if let Some(window) = handle.get_webview_window(desktop::MAIN_WINDOW) {
                                bring_forward(&window);
                            }
                        }
                        _ => tracing::warn!("the app process sent a line that is not a message"),
                    }
                }
                // The app process ended (or quit): so does its window.
                served.close();
                handle.exit(0);
            });
            *lock(&calls.out) = Some(out);
            let window = build(app.handle(), demo)?;
            bring_forward(&window);
            Ok(())
        })
        .on_window_event(move |window, event| {
            if let tauri::WindowEvent::CloseRequested { .. } = event {
                // The app opens a new window if asked from now on, not this one.
                if let Some(out) = &*lock(&window.state::<Arc<Calls>>().out) {
                    let _ = out.send(Message::Closing);
                }
                // Saved as it closes, so that a later kill of the app keeps it (the demo
                // keeps none).
                if !demo
                    && let Err(e) = window.app_handle().save_window_state(desktop::WINDOW_STATE)
                {
                    tracing::debug!(error = %e, "the window's place was not saved");
                }
            }
        })
        .invoke_handler(forward)
        .build(tauri::generate_context!())?;
    app.run(|_, _| {});
    Ok(std::process::ExitCode::SUCCESS)
}

/// The window, from its configuration; its title follows the page's (which names the screen
/// shown).
fn build(app: &AppHandle, demo: bool) -> anyhow::Result<WebviewWindow> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == desktop::MAIN_WINDOW)
        .ok_or_else(|| anyhow::anyhow!("no main window in the configuration"))?
        .clone();
    let window = WebviewWindowBuilder::from_config(app, &config)?
        .on_document_title_changed(|window, title| {
            if !title.is_empty() {
                let _ = window.set_title(&title);
            }
        })
        .build()?;
    if demo {
        window.set_title(desktop::DEMO_TITLE)?;
    }
    Ok(window)
}

fn bring_forward(window: &WebviewWindow) {
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: Value) -> Map<String, Value> {
        match json {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn arguments_are_read_by_key_and_a_bad_one_is_a_clear_error() {
        let given = args(serde_json::json!({ "memberId": "m1", "limit": 5 }));
        assert_eq!(arg::<String>(&given, "memberId").unwrap(), "m1");
        assert_eq!(arg::<Option<u32>>(&given, "limit").unwrap(), Some(5));
        // An optional argument left out is absent; a required one is an error naming it.
        assert_eq!(arg::<Option<u32>>(&given, "offset").unwrap(), None);
        let missing = arg::<String>(&given, "email").unwrap_err();
        assert_eq!(missing["kind"], "invalid_input");
        assert!(
            missing["message"].as_str().unwrap().contains("email"),
            "{missing}"
        );
        let wrong = arg::<u32>(&given, "memberId").unwrap_err();
        assert_eq!(wrong["kind"], "invalid_input");
    }

    #[test]
    fn an_unknown_command_is_named_shortened_and_without_control_characters() {
        let e = unknown_command("drop_everything");
        assert_eq!(e["kind"], "invalid_input");
        assert!(e["message"].as_str().unwrap().contains("drop_everything"));
        let long = unknown_command(&format!("x\n{}", "y".repeat(500)));
        let message = long["message"].as_str().unwrap();
        assert!(message.len() < 120 && !message.contains('\n'), "{message}");
    }

    #[test]
    fn errors_keep_the_engines_shape() {
        let failed: Result<(), CoreError> = Err(CoreError::new(ErrorKind::NotSignedIn, "no"));
        let e = answer_result(failed).unwrap_err();
        assert_eq!(e["kind"], "not_signed_in");
        assert_eq!(e["message"], "no");
        assert_eq!(answer_result(Ok(3)).unwrap(), 3);
    }

    #[test]
    fn messages_are_one_json_object_each() {
        let call = Message::Call {
            id: 7,
            command: "alerts".into(),
            args: args(serde_json::json!({ "filter": null })),
        };
        let line = serde_json::to_string(&call).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap(),
            serde_json::json!({ "type": "call", "id": 7, "command": "alerts", "args": { "filter": null } })
        );
        assert!(serde_json::from_str::<Message>(r#"{"type":"nonsense"}"#).is_err());
    }

    #[tokio::test]
    async fn a_call_waits_for_its_own_answer_and_fails_clearly_once_the_app_is_gone() {
        let calls = Arc::new(Calls::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        *lock(&calls.out) = Some(tx);
        let first = tokio::spawn({
            let calls = Arc::clone(&calls);
            async move { calls.call("alerts".into(), Map::new()).await }
        });
        let second = tokio::spawn({
            let calls = Arc::clone(&calls);
            async move { calls.call("members".into(), Map::new()).await }
        });
        let mut ids = HashMap::new();
        for _ in 0..2 {
            let Some(Message::Call { id, command, .. }) = rx.recv().await else {
                panic!("no call sent");
            };
            ids.insert(command, id);
        }
        // Answered in the other order, each reaches its own caller.
        calls.answered(
            ids["members"],
            false,
            serde_json::json!({ "kind": "server" }),
        );
        calls.answered(ids["alerts"], true, serde_json::json!([1, 2]));
        assert_eq!(first.await.unwrap().unwrap(), serde_json::json!([1, 2]));
        assert_eq!(second.await.unwrap().unwrap_err()["kind"], "server");
        // The link closed: a call waiting and a new call both say the app is gone.
        let waiting = tokio::spawn({
            let calls = Arc::clone(&calls);
            async move { calls.call("alerts".into(), Map::new()).await }
        });
        let _ = rx.recv().await;
        calls.close();
        for e in [
            waiting.await.unwrap().unwrap_err(),
            calls.call("alerts".into(), Map::new()).await.unwrap_err(),
        ] {
            assert_eq!(e["kind"], "internal");
            assert!(e["message"].as_str().unwrap().contains("gone"), "{e}");
        }
    }
}
