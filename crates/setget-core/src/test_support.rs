//! Fixtures shared by the crate's unit tests.

use chrono::{DateTime, TimeZone as _, Utc};
use setget_protocol::{AuditEvent, AuthMethod, EventKind, Location};

/// A location as the server reports it: a city, its country code and coordinates.
pub(crate) fn location(city: &str, cc: &str, lat: f64, lon: f64) -> Location {
    Location {
        city: Some(city.into()),
        region: None,
        country: None,
        country_code: Some(cc.into()),
        latitude: Some(lat),
        longitude: Some(lon),
    }
}

/// 2026-04-08 at 12:`minute` UTC.
pub(crate) fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 8, 12, minute, 0)
        .single()
        .unwrap()
}

/// A sign-in of ada's as the audit log records it: event `ev<seq>`, session `s1`.
pub(crate) fn audit_event(seq: i64) -> AuditEvent {
    AuditEvent {
        as_org: None,
        device_id: None,
        asn: None,
        seq,
        id: format!("ev{seq}"),
        event: EventKind::SignedIn,
        at: at(seq as u32 % 60),
        member_id: Some("m1".into()),
        member_email: Some("ada@acme.test".into()),
        session_id: Some("s1".into()),
        actor_id: None,
        actor_email: None,
        ip: Some("81.2.69.160".into()),
        user_agent: Some("Mozilla/5.0".into()),
        device: Some("Firefox on Windows".into()),
        location: None,
        auth_method: Some(AuthMethod::Password),
        reason: None,
        details: Some(serde_json::json!({"n": seq})),
    }
}
