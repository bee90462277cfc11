//! The canonical encoding of an audit event, the data of its leaf in the log's tree.
//!
//! Version byte 0x01, then the fields in this fixed order: `seq` and `at` (Unix seconds) as
//! 8-byte big-endian integers; `id`, `event`, `member_id`, `member_email`, `session_id`,
//! `actor_id`, `actor_email`, `ip`, `user_agent`, `device`, `location`, `auth_method`,
//! `reason`, `details` each as 0x00 when absent or 0x01, a 4-byte big-endian length and
//! the UTF-8 bytes; then, only when the event has either, `asn` (in decimal) and `as_org`
//! the same way, so that an event without them (every event written before servers knew
//! autonomous systems) encodes as it always did; then, only when the event has one,
//! `device_id` the same way (after both of the former, present or not). `location` and `details` are JSON with object keys sorted and no
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
    if event.asn.is_some() || event.as_org.is_some() || event.device_id.is_some() {
        field(&mut out, event.asn.map(|n| n.to_string()).as_deref());
        field(&mut out, event.as_org.as_deref());
    }
    if event.device_id.is_some() {
        field(&mut out, event.device_id.as_deref());
    }
    out
}

/// The hash of `event`'s leaf.
pub fn event_leaf(event: &AuditEvent) -> Hash {
    leaf_hash(&encode(event))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use setget_protocol::{AuthMethod, EventKind, Location};

    use super::*;

    fn sign_in() -> AuditEvent {
        AuditEvent {
            seq: 7,
            id: "ev7".into(),
            event: EventKind::SignedIn,
            at: chrono::Utc
                .with_ymd_and_hms(2026, 4, 8, 12, 0, 0)
                .single()
                .unwrap_or_default(),
            member_id: Some("m1".into()),
            member_email: Some("ada@acme.test".into()),
            session_id: Some("s1".into()),
            actor_id: None,
            actor_email: None,
            ip: Some("81.2.69.142".into()),
            user_agent: Some("Mozilla/5.0".into()),
            device: Some("Firefox on Windows".into()),
            location: Some(Location {
                city: Some("London".into()),
                region: None,
                country: None,
                country_code: Some("GB".into()),
                latitude: Some(51.5142),
                longitude: Some(-0.0931),
            }),
            asn: None,
            as_org: None,
            device_id: None,
            auth_method: Some(AuthMethod::Password),
            reason: None,
            details: Some(serde_json::json!({"b": 1, "a": [true, null]})),
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The encoding is the log's format: an event as servers have always written it keeps its
    /// leaf, whatever this version adds.
    #[test]
    fn an_event_encodes_as_it_always_did_and_its_autonomous_system_only_when_known() {
        let plain = sign_in();
        let bytes = encode(&plain);
        assert_eq!(bytes[0], 0x01);
        assert!(
            bytes.ends_with(br#"{"a":[true,null],"b":1}"#),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(
            hex(&event_leaf(&plain)),
            "3f3a2acedfb8b831ecd5f4ab3d959eef1487d7d205e3c5208db03cebf0561488"
        );
        let with_as = AuditEvent {
            asn: Some(5089),
            as_org: Some("Virgin Media Limited".into()),
            ..sign_in()
        };
        let longer = encode(&with_as);
        assert_eq!(&longer[..bytes.len()], &bytes[..]);
        let mut tail = vec![1, 0, 0, 0, 4];
        tail.extend_from_slice(b"5089");
        tail.extend_from_slice(&[1, 0, 0, 0, 20]);
        tail.extend_from_slice(b"Virgin Media Limited");
        assert_eq!(&longer[bytes.len()..], &tail[..]);
        // An organisation without a number (or the reverse) is still committed to.
        let org_only = AuditEvent {
            asn: None,
            ..with_as.clone()
        };
        assert_ne!(event_leaf(&org_only), event_leaf(&plain));
        assert_ne!(event_leaf(&org_only), event_leaf(&with_as));
    }

    /// A device id comes after the autonomous system's two fields, which are then always
    /// there: events with and without it, or with it and either of the others, never encode
    /// alike, and events without it keep their leaves.
    #[test]
    fn a_device_id_is_committed_to_after_the_autonomous_system() {
        let plain = sign_in();
        let with_as = AuditEvent {
            asn: Some(5089),
            as_org: Some("Virgin Media Limited".into()),
            ..sign_in()
        };
        let device = "dev_0123456789abcdef0123456789abcdef";
        let with_device = AuditEvent {
            device_id: Some(device.into()),
            ..sign_in()
        };
        let both = AuditEvent {
            device_id: Some(device.into()),
            ..with_as.clone()
        };
        let base = encode(&plain);
        let mut tail = vec![0, 0, 1, 0, 0, 0, 36];
        tail.extend_from_slice(device.as_bytes());
        assert_eq!(encode(&with_device), [&base[..], &tail[..]].concat());
        let as_bytes = encode(&with_as);
        assert_eq!(
            encode(&both),
            [&as_bytes[..], &[1, 0, 0, 0, 36], device.as_bytes()].concat()
        );
        let leaves = [&plain, &with_as, &with_device, &both].map(event_leaf);
        for (i, a) in leaves.iter().enumerate() {
            for b in &leaves[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // The leaf of an event without a device id is the one pinned above.
        assert_eq!(
            hex(&leaves[0]),
            "3f3a2acedfb8b831ecd5f4ab3d959eef1487d7d205e3c5208db03cebf0561488"
        );
    }
}
