//! The canonical encoding of an audit event, the data of its leaf in the log's tree.
//!
//! Version byte 0x01, then the fields in this fixed order: `seq` and `at` (Unix seconds) as
//! 8-byte big-endian integers; `id`, `event`, `member_id`, `member_email`, `session_id`,
//! `actor_id`, `actor_email`, `ip`, `user_agent`, `device`, `location`, `auth_method`,
//! `reason`, `details` each as 0x00 when absent or 0x01, a 4-byte big-endian length and
//! the UTF-8 bytes. `location` and `details` are JSON with object keys sorted and no
//! whitespace, numbers as `serde_json` writes them. Both the server (appending) and the app
//! (verifying) encode the event as the API shows it, so neither depends on how the other
//! stores it.

use serde_json::Value;
use setget_protocol::AuditEvent;

use crate::tree::{Hash, leaf_hash};

const VERSION: u8 = 0x01;

fn field(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            // An event's fields are far below 4 GiB; a longer one is cut at what fits, which
            // still commits to it (the server stores nothing that long).
            let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// Writes `value` as JSON with sorted keys and no whitespace.
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn json_field(out: &mut Vec<u8>, value: Option<&Value>) {
    let text = value.map(|v| {
        let mut s = String::new();
        canonical_json(v, &mut s);
        s
    });
    field(out, text.as_deref());
}

/// The canonical encoding of `event`.
pub fn encode(event: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.push(VERSION);
    out.extend_from_slice(&event.seq.to_be_bytes());
    out.extend_from_slice(&event.at.timestamp().to_be_bytes());
    field(&mut out, Some(&event.id));
    field(&mut out, Some(event.event.as_str()));
    field(&mut out, event.member_id.as_deref());
    field(&mut out, event.member_email.as_deref());
    field(&mut out, event.session_id.as_deref());
    field(&mut out, event.actor_id.as_deref());
    field(&mut out, event.actor_email.as_deref());
    field(&mut out, event.ip.as_deref());
    field(&mut out, event.user_agent.as_deref());
    field(&mut out, event.device.as_deref());
    let location = event
        .location
        .as_ref()
        .and_then(|l| serde_json::to_value(l).ok());
    json_field(&mut out, location.as_ref());
    field(&mut out, event.auth_method.map(|m| m.as_str()));
    field(&mut out, event.reason.as_ref().map(|r| r.as_str()));
    json_field(&mut out, event.details.as_ref());
    out
}

/// The hash of `event`'s leaf.
pub fn event_leaf(event: &AuditEvent) -> Hash {
    leaf_hash(&encode(event))
}
