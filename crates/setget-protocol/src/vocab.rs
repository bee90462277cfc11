//! The contract's vocabulary: what an audit event records ([`EventKind`]), why
//! ([`EventReason`]), and the timeouts a session policy may choose ([`Timeout`]).
//!
//! Event kinds and reasons are open: a newer server may record more, and the audit log keeps
//! a name this version does not know exactly as it was sent (`Other`), so nothing it holds is
//! rewritten. Timeouts are closed: the policy's choices are the contract's.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An open set of names: the known ones as variants, any other kept as sent.
macro_rules! open_names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A name this version does not know (a newer server's), kept as sent.
            Other(String),
        }

        impl $name {
            /// Every known name, in the order the window lists them.
            pub const KNOWN: &'static [Self] = &[$(Self::$variant),*];

            /// The name on the wire and in the databases.
            pub const fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(s) => s.as_str(),
                }
            }

            /// The known name `s`, else `Other(s)`.
            pub fn parse(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)*
                    _ => Self::Other(s.to_owned()),
                }
            }

            /// Whether this version knows the name.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = Cow::<'de, str>::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

open_names! {
    /// What an audit event records.
    pub enum EventKind {
        SignedIn = "session.signed_in",
        SignedOut = "session.signed_out",
        Revoked = "session.revoked",
        Expired = "session.expired",
        /// A session ended because its IP or browser binding broke, or its token was reused.
        ReauthRequired = "session.reauth_required",
        SignInFailed = "auth.sign_in_failed",
        /// An admin revoked every session of one member.
        MemberSessionsTerminated = "user.sessions_terminated",
        /// An owner revoked every session of the workspace.
        WorkspaceSessionsTerminated = "workspace.sessions_terminated",
        /// An owner or admin revoked a chosen set of sessions, of any members, at once; each
        /// session has its own `session.revoked` event before it.
        SelectedSessionsTerminated = "selection.sessions_terminated",
        /// An owner or admin changed the session policy.
        PolicyUpdated = "settings.security.updated",
        /// The server's audit-log signing key was replaced; `details.statement` is the new
        /// key's announcement, signed by the old key.
        LogKeyRotated = "audit_log.key_rotated",
    }
}

open_names! {
    /// Why an audit event happened: who revoked, which timeout, which binding, why a sign-in
    /// failed.
    pub enum EventReason {
        /// Revoked by the member.
        ByMember = "self",
        /// Revoked by an admin.
        ByAdmin = "admin",
        WorkspaceRevoke = "workspace_revoke",
        ConcurrentLimit = "concurrent_limit",
        Inactivity = "inactivity",
        Absolute = "absolute",
        IpChange = "ip_change",
        UserAgentChange = "user_agent_change",
        TokenReuse = "token_reuse",
        WrongPassword = "wrong_password",
        /// A wrong password confirming the revocation of every session.
        PasswordConfirmationFailed = "password_confirmation_failed",
        /// Attempts refused while the account was locked (one event a minute, counted).
        Locked = "locked",
    }
}

impl EventKind {
    /// Whether the event means sessions changed (one began, ended or was revoked), so that a
    /// client holding the session list should pull it; an unknown name counts by its family.
    pub fn changes_sessions(&self) -> bool {
        match self {
            Self::SignedIn
            | Self::SignedOut
            | Self::Revoked
            | Self::Expired
            | Self::ReauthRequired
            | Self::MemberSessionsTerminated
            | Self::WorkspaceSessionsTerminated
            | Self::SelectedSessionsTerminated => true,
            Self::SignInFailed | Self::PolicyUpdated | Self::LogKeyRotated => false,
            Self::Other(name) => {
                name.starts_with("session.") || name.ends_with(".sessions_terminated")
            }
        }
    }
}

impl From<crate::EndReason> for EventReason {
    /// The reason an event about a session's end carries: the end reason's own name
    /// (`inactivity`, `ip_change`, ...).
    fn from(end: crate::EndReason) -> Self {
        Self::parse(end.as_str())
    }
}

/// One of the timeouts a session policy may choose, by its wire name (`"30m"`, `"7d"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Timeout {
    #[serde(rename = "30m")]
    M30,
    #[serde(rename = "1h")]
    H1,
    #[serde(rename = "8h")]
    H8,
    #[serde(rename = "24h")]
    H24,
    #[serde(rename = "7d")]
    D7,
    #[serde(rename = "30d")]
    D30,
    #[serde(rename = "90d")]
    D90,
}

impl Timeout {
    /// The inactivity timeouts a policy may choose, shortest first.
    pub const INACTIVITY: [Self; 6] = [
        Self::M30,
        Self::H1,
        Self::H8,
        Self::H24,
        Self::D7,
        Self::D30,
    ];
    /// The absolute timeouts a policy may choose, shortest first.
    pub const ABSOLUTE: [Self; 4] = [Self::H24, Self::D7, Self::D30, Self::D90];
    /// A new workspace's inactivity timeout.
    pub const DEFAULT_INACTIVITY: Self = Self::D7;
    /// A new workspace's absolute timeout.
    pub const DEFAULT_ABSOLUTE: Self = Self::D30;

    /// Every timeout, shortest first.
    const ALL: [Self; 7] = [
        Self::M30,
        Self::H1,
        Self::H8,
        Self::H24,
        Self::D7,
        Self::D30,
        Self::D90,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::M30 => "30m",
            Self::H1 => "1h",
            Self::H8 => "8h",
            Self::H24 => "24h",
            Self::D7 => "7d",
            Self::D30 => "30d",
            Self::D90 => "90d",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// How long it lasts.
    pub fn duration(self) -> chrono::Duration {
        match self {
            Self::M30 => chrono::Duration::minutes(30),
            Self::H1 => chrono::Duration::hours(1),
            Self::H8 => chrono::Duration::hours(8),
            Self::H24 => chrono::Duration::hours(24),
            Self::D7 => chrono::Duration::days(7),
            Self::D30 => chrono::Duration::days(30),
            Self::D90 => chrono::Duration::days(90),
        }
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The concurrent-session limits a policy may set (`null` is no limit).
pub const CONCURRENT_SESSIONS: std::ops::RangeInclusive<u32> = 1..=1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_round_trip_and_unknown_ones_are_kept_as_sent() {
        for kind in EventKind::KNOWN {
            let json = serde_json::to_string(kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(
                serde_json::from_str::<EventKind>(&json).ok().as_ref(),
                Some(kind)
            );
            assert!(kind.is_known());
        }
        for reason in EventReason::KNOWN {
            assert_eq!(&EventReason::parse(reason.as_str()), reason);
        }
        let newer: EventKind =
            serde_json::from_str("\"session.mfa_verified\"").unwrap_or(EventKind::SignedIn);
        assert_eq!(newer, EventKind::Other("session.mfa_verified".into()));
        assert!(!newer.is_known());
        assert_eq!(
            serde_json::to_string(&newer).unwrap_or_default(),
            "\"session.mfa_verified\""
        );
        assert_eq!(EventKind::KNOWN.len(), 11);
        assert_eq!(
            EventKind::parse("audit_log.key_rotated"),
            EventKind::LogKeyRotated
        );
        assert!(EventKind::KNOWN.contains(&EventKind::parse("user.sessions_terminated")));
    }

    #[test]
    fn session_events_imply_a_sessions_pull_and_others_do_not() {
        for e in [
            "session.signed_in",
            "session.revoked",
            "session.expired",
            "session.reauth_required",
            "user.sessions_terminated",
            "workspace.sessions_terminated",
            "selection.sessions_terminated",
            "session.mfa_verified",
            "team.sessions_terminated",
        ] {
            assert!(EventKind::parse(e).changes_sessions(), "{e}");
        }
        for e in [
            "auth.sign_in_failed",
            "audit_log.key_rotated",
            "settings.security.updated",
            "billing.updated",
        ] {
            assert!(!EventKind::parse(e).changes_sessions(), "{e}");
        }
    }

    #[test]
    fn the_policy_offers_exactly_the_published_timeouts() {
        let names = |ts: &[Timeout]| ts.iter().map(|t| t.as_str()).collect::<Vec<_>>();
        assert_eq!(
            names(&Timeout::INACTIVITY),
            ["30m", "1h", "8h", "24h", "7d", "30d"]
        );
        assert_eq!(names(&Timeout::ABSOLUTE), ["24h", "7d", "30d", "90d"]);
        for t in Timeout::ALL {
            assert_eq!(Timeout::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_string(&t).unwrap_or_default(),
                format!("\"{t}\"")
            );
        }
        assert_eq!(Timeout::parse("2h"), None);
        assert!(serde_json::from_str::<Timeout>("\"2h\"").is_err());
        assert_eq!(Timeout::M30.duration(), chrono::Duration::minutes(30));
        assert_eq!(Timeout::D90.duration(), chrono::Duration::days(90));
        assert_eq!(
            (CONCURRENT_SESSIONS.start(), CONCURRENT_SESSIONS.end()),
            (&1, &1000)
        );
    }
}
