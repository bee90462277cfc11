//! The first, simple trigger for alerts: a session of the signed-in member from a network
//! (/24 for IPv4, /48 for IPv6) other than the one the app itself is signed in from.
//! The detector replaces this rule; the alerts it produces take the same path.

use setget_protocol::Session;

use crate::detect::network_of;
use crate::notify::{Alert, Severity};

/// Alerts for the sessions in `sessions` (one member's, with `current` marked) that come from
/// another network than the current session.
pub fn unfamiliar_sessions(sessions: &[Session]) -> Vec<Alert> {
    let Some(current) = sessions.iter().find(|s| s.current == Some(true)) else {
        return Vec::new();
    };
    let home = network_of(&current.ip);
    sessions
        .iter()
        .filter(|s| s.current != Some(true))
        .filter(|s| network_of(&s.ip) != home)
        .map(|s| Alert {
            session_id: s.id.clone(),
            member_email: s.member_email.clone(),
            ip: s.ip.clone(),
            place: s.location.as_ref().and_then(|l| {
                let parts: Vec<&str> = [l.city.as_deref(), l.country_code.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                (!parts.is_empty()).then(|| parts.join(", "))
            }),
            device: s.device.clone(),
            signed_in_at: s.created_at,
            severity: Severity::Medium,
            reasons: vec!["new network".to_owned()],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use setget_protocol::{AuthMethod, SessionStatus};

    fn session(id: &str, ip: &str, current: bool) -> Session {
        let at = DateTime::parse_from_rfc3339("2026-04-08T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap();
        Session {
            id: id.into(),
            member_id: "m".into(),
            member_email: "owner@acme.test".into(),
            device: "Firefox on Windows".into(),
            browser: "Firefox".into(),
            os: "Windows".into(),
            user_agent: String::new(),
            ip: ip.into(),
            last_ip: ip.into(),
            location: None,
            auth_method: AuthMethod::Password,
            created_at: at,
            last_active_at: at,
            expires_at: at,
            inactivity_timeout: "7d".into(),
            absolute_timeout: "30d".into(),
            status: SessionStatus::Active,
            ended_at: None,
            end_reason: None,
            change_seq: 1,
            current: Some(current),
        }
    }

    #[test]
    fn only_sessions_from_another_network_alert() {
        let sessions = [
            session("me", "127.0.0.1", true),
            session("same-net", "127.0.0.99", false),
            session("far", "81.2.69.142", false),
        ];
        let alerts = unfamiliar_sessions(&sessions);
        let ids: Vec<_> = alerts.iter().map(|a| a.session_id.as_str()).collect();
        assert_eq!(ids, ["far"]);
        assert_eq!(alerts[0].title(), "Unfamiliar sign-in: owner@acme.test");
        assert!(alerts[0].body().contains("81.2.69.142"));
        assert!(alerts[0].body().contains("Firefox on Windows"));
    }

    #[test]
    fn without_a_current_session_nothing_alerts() {
        let sessions = [session("a", "81.2.69.142", false)];
        assert!(unfamiliar_sessions(&sessions).is_empty());
    }
}
