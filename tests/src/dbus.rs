//! What reaches the desktop's notification server: `dbus-monitor` on the session bus, its
//! `Notify` calls parsed (title, body, actions, bus time) and paired with the id the server
//! answered; and a notification's action invoked as the server announces a click.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};

/// One `Notify` call seen on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyCall {
    /// When the bus carried it (dbus-monitor's timestamp).
    pub at: SystemTime,
    pub app: String,
    pub replaces: u32,
    pub title: String,
    pub body: String,
    /// (key, label) pairs.
    pub actions: Vec<(String, String)>,
    /// The id the notification server gave it.
    pub id: u32,
}

/// A `dbus-monitor` of notifications; killed on drop.
#[derive(Debug)]
pub struct NotifyMonitor {
    child: Child,
    calls: mpsc::Receiver<NotifyCall>,
}

/// One message as dbus-monitor prints it: the header line and the lines under it.
#[derive(Debug, Default)]
struct Message {
    header: String,
    body: String,
}

fn field<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split([' ', ';'])
        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
}

fn bus_time(header: &str) -> Option<SystemTime> {
    let secs: f64 = field(header, "time")?.parse().ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs))
}

/// The `string "..."` values of a message body, in order (dbus-monitor does not escape them;
/// they may span lines).
fn strings(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("string \"") {
        rest = &rest[start + 8..];
        let Some(end) = rest.find('"') else { break };
        out.push(rest[..end].to_owned());
        rest = &rest[end + 1..];
    }
    out
}

fn parse_notify(m: &Message) -> Option<NotifyCall> {
    // app_name, replaces_id, app_icon, summary, body, actions [..], hints [..], timeout
    let at = bus_time(&m.header)?;
    let replaces = m
        .body
        .lines()
        .find_map(|l| l.trim().strip_prefix("uint32 "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let head_end = m.body.find("array [")?;
    let head = strings(&m.body[..head_end]);
    let after = &m.body[head_end + 7..];
    let actions_end = after.find("\n   ]").unwrap_or(after.len());
    let flat = strings(&after[..actions_end]);
    let actions = flat
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    Some(NotifyCall {
        at,
        app: head.first()?.clone(),
        replaces,
        title: head.get(2)?.clone(),
        body: head.get(3)?.clone(),
        actions,
        id: 0,
    })
}

impl NotifyMonitor {
    /// Starts monitoring the session bus; returns once the monitor is in place.
    pub fn start() -> anyhow::Result<Self> {
        let mut child = Command::new("dbus-monitor")
            .args([
                "--monitor",
                "interface='org.freedesktop.Notifications'",
                "type='method_return'",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting dbus-monitor (package dbus)")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (ready_tx, ready_rx) = mpsc::channel();
        let (tx, calls) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            // Notify calls waiting for their answer, by (sender, serial).
            let mut pending: HashMap<(String, String), NotifyCall> = HashMap::new();
            let mut current: Option<Message> = None;
            let finish = |m: Message, pending: &mut HashMap<_, _>| {
                if m.header.starts_with("method call") && m.header.contains("member=Notify") {
                    if let (Some(call), Some(sender), Some(serial)) = (
                        parse_notify(&m),
                        field(&m.header, "sender"),
                        field(&m.header, "serial"),
                    ) {
                        pending.insert((sender.to_owned(), serial.to_owned()), call);
                    }
                } else if m.header.starts_with("method return")
                    && let (Some(dest), Some(serial)) = (
                        field(&m.header, "destination"),
                        field(&m.header, "reply_serial"),
                    )
                    && let Some(mut call) = pending.remove(&(dest.to_owned(), serial.to_owned()))
                {
                    call.id = m
                        .body
                        .trim()
                        .strip_prefix("uint32 ")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let _ = tx.send(call);
                }
            };
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let is_header = ["method call ", "method return ", "signal ", "error "]
                    .iter()
                    .any(|p| line.starts_with(p));
                if is_header {
                    if let Some(m) = current.take() {
                        finish(m, &mut pending);
                    }
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                    current = Some(Message {
                        header: line,
                        body: String::new(),
                    });
                } else if let Some(m) = current.as_mut() {
                    m.body.push_str(&line);
                    m.body.push('\n');
                }
                // A method return is complete after its one value line: finish it at once,
                // so that its call is not held until the next message.
                if let Some(m) = current.as_ref()
                    && m.header.starts_with("method return")
                    && !m.body.is_empty()
                    && let Some(m) = current.take()
                {
                    finish(m, &mut pending);
                }
            }
        });
        // dbus-monitor's first output is its own NameAcquired signal: it is listening.
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("dbus-monitor did not start within 10 s (is there a session bus?)")?;
        Ok(Self { child, calls })
    }

    /// The next `Notify` call, waiting at most `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<NotifyCall> {
        self.calls.recv_timeout(timeout).ok()
    }

    /// The first `Notify` call matching `want` within `timeout` (others are passed over).
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut want: impl FnMut(&NotifyCall) -> bool,
    ) -> anyhow::Result<NotifyCall> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.calls.recv_timeout(left) {
                Ok(call) if want(&call) => return Ok(call),
                Ok(call) => seen.push(call.title),
                Err(_) => bail!(
                    "no matching notification within {timeout:?}; saw {} others: {seen:?}",
                    seen.len()
                ),
            }
        }
    }
}

impl Drop for NotifyMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Announces on the session bus that the admin clicked `key` on notification `id`, as the
/// notification server does (`ActionInvoked`).
pub fn invoke_action(id: u32, key: &str) -> anyhow::Result<()> {
    let status = Command::new("dbus-send")
        .args([
            "--session",
            "--type=signal",
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications.ActionInvoked",
        ])
        .arg(format!("uint32:{id}"))
        .arg(format!("string:{key}"))
        .status()
        .context("running dbus-send")?;
    if !status.success() {
        bail!("dbus-send failed: {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notify_call_is_parsed_with_multiline_body_and_actions() {
        let m = Message {
            header: "method call time=1795763285.574558 sender=:1.3 -> \
                     destination=org.freedesktop.Notifications serial=3 \
                     path=/org/freedesktop/Notifications; \
                     interface=org.freedesktop.Notifications; member=Notify"
                .into(),
            body: "   string \"SetGet Admin\"\n   uint32 7\n   string \"dialog-warning\"\n   \
                   string \"Unfamiliar sign-in: a\"\n   string \"Sydney · 1.1.1.1\nMon 09:00\"\n   \
                   array [\n      string \"revoke\"\n      string \"Revoke session\"\n      \
                   string \"open\"\n      string \"Open\"\n   ]\n   array [\n      dict entry(\n         \
                   string \"category\"\n         variant             string \"x\"\n      )\n   ]\n   \
                   int32 -1\n"
                .into(),
        };
        let call = parse_notify(&m).unwrap();
        assert_eq!(call.app, "SetGet Admin");
        assert_eq!(call.replaces, 7);
        assert_eq!(call.title, "Unfamiliar sign-in: a");
        assert_eq!(call.body, "Sydney · 1.1.1.1\nMon 09:00");
        assert_eq!(
            call.actions,
            [
                ("revoke".to_owned(), "Revoke session".to_owned()),
                ("open".to_owned(), "Open".to_owned())
            ]
        );
        assert_eq!(field(&m.header, "serial"), Some("3"));
        assert_eq!(field(&m.header, "sender"), Some(":1.3"));
    }
}
