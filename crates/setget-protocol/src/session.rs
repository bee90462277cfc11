//! Members, sessions and the requests and answers around signing in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::vocab::{EventKind, EventReason, Timeout};

/// `POST /auth/sign-in/`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// At most 254 bytes once trimmed.
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub email: String,
    pub password: String,
    /// Always `"email"`: the only sign-in medium with a password.
    #[cfg_attr(feature = "openapi", schema(pattern = "^email$"))]
    pub medium: String,
}

/// The answer to a successful sign-in; the token travels only in `Set-Cookie`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInResponse {
    pub member: Member,
    pub session: Session,
}

/// A member's role in their workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    /// The role as it appears on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }

    /// Owners and admins manage other members' sessions and the workspace policy.
    pub fn is_admin(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// A workspace member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Member {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub active_sessions: u32,
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub last_active_at: Option<DateTime<Utc>>,
}

/// The workspace a member belongs to, by its slug.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WorkspaceRef {
    pub slug: String,
    pub name: String,
}

/// `GET /api/users/me/`: the caller and their workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    #[serde(flatten)]
    pub member: Member,
    pub workspace: WorkspaceRef,
}

/// Where an IP address geolocates, as precisely as the database knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Location {
    pub city: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// How a session was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Password,
}

impl AuthMethod {
    /// The method as it appears on the wire and in the databases.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
        }
    }

    /// Parses the wire name; there is no other method.
    pub fn parse(s: &str) -> Option<Self> {
        (s == "password").then_some(Self::Password)
    }
}

/// A session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    Revoked,
    Expired,
    SignedOut,
}

impl SessionStatus {
    /// The status as it appears on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::SignedOut => "signed_out",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "revoked" => Some(Self::Revoked),
            "expired" => Some(Self::Expired),
            "signed_out" => Some(Self::SignedOut),
            _ => None,
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    SignOut,
    RevokedSelf,
    RevokedAdmin,
    ConcurrentLimit,
    WorkspaceRevoke,
    Inactivity,
    Absolute,
    IpChange,
    UserAgentChange,
    TokenReuse,
    /// A reason this version does not know (a newer server's).
    #[serde(other)]
    Unknown,
}

impl EndReason {
    /// The reason as it appears on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignOut => "sign_out",
            Self::RevokedSelf => "revoked_self",
            Self::RevokedAdmin => "revoked_admin",
            Self::ConcurrentLimit => "concurrent_limit",
            Self::WorkspaceRevoke => "workspace_revoke",
            Self::Inactivity => "inactivity",
            Self::Absolute => "absolute",
            Self::IpChange => "ip_change",
            Self::UserAgentChange => "user_agent_change",
            Self::TokenReuse => "token_reuse",
            Self::Unknown => "unknown",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::SignOut,
            Self::RevokedSelf,
            Self::RevokedAdmin,
            Self::ConcurrentLimit,
            Self::WorkspaceRevoke,
            Self::Inactivity,
            Self::Absolute,
            Self::IpChange,
            Self::UserAgentChange,
            Self::TokenReuse,
            Self::Unknown,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One sign-in of one member, with where and how it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Session {
    pub id: String,
    pub member_id: String,
    pub member_email: String,
    /// "Chrome on macOS", or "SetGet Admin on Linux" for the desktop app.
    pub device: String,
    pub browser: String,
    pub os: String,
    pub user_agent: String,
    /// The IP address the session was created from.
    pub ip: String,
    /// The IP address of the session's latest request.
    pub last_ip: String,
    pub location: Option<Location>,
    /// The autonomous system the session was created from (its network operator), when
    /// the server knows it.
    #[serde(default)]
    pub asn: Option<u32>,
    /// The autonomous system's organisation, e.g. `"Cloudflare, Inc."`.
    #[serde(default)]
    pub as_org: Option<String>,
    /// The public id of the browser the session signed in from, `dev_` and 32 hex digits:
    /// the same for every sign-in of one browser profile until its cookies are cleared
    /// (from the [`crate::DEVICE_COOKIE`] a sign-in sets). Absent on sessions older than
    /// device ids.
    #[serde(default)]
    pub device_id: Option<String>,
    pub auth_method: AuthMethod,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub last_active_at: DateTime<Utc>,
    /// `min(last_active_at + inactivity_timeout, created_at + absolute_timeout)`.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub expires_at: DateTime<Utc>,
    /// The inactivity timeout in force when the session was created, e.g. `"7d"`.
    pub inactivity_timeout: Timeout,
    /// The absolute timeout in force when the session was created, e.g. `"30d"`.
    pub absolute_timeout: Timeout,
    pub status: SessionStatus,
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub change_seq: i64,
    /// Present only on the `/api/users/me/` endpoints: whether this is the caller's session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub current: Option<bool>,
}

/// A page of a list: `{"results": [...], "total": N}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub results: Vec<T>,
    pub total: u64,
}

/// `POST /api/_dev/workspaces/` (dev mode only): a workspace and its members.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DevWorkspace {
    pub slug: String,
    pub name: String,
    pub members: Vec<DevMember>,
}

/// One member of a [`DevWorkspace`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DevMember {
    pub email: String,
    pub password: String,
    pub role: Role,
    pub display_name: String,
}

/// The answer to creating a dev workspace: the ids that were assigned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevWorkspaceCreated {
    pub id: String,
    pub slug: String,
    pub members: Vec<DevMemberCreated>,
}

/// The id assigned to one member of a dev workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevMemberCreated {
    pub id: String,
    pub email: String,
}

/// One entry of a workspace's audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEvent {
    /// Gap-free and increasing within a workspace.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: i64,
    pub id: String,
    /// `session.signed_in`, `session.revoked`, `auth.sign_in_failed`, ...
    #[cfg_attr(feature = "ts", ts(type = "EventKind"))]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub event: EventKind,
    /// When it happened; for `session.expired`, the instant the session expired.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub at: DateTime<Utc>,
    pub member_id: Option<String>,
    pub member_email: Option<String>,
    pub session_id: Option<String>,
    /// Who did it, when it was someone else than the member (an admin revoking).
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub device: Option<String>,
    pub location: Option<Location>,
    /// The autonomous system of `ip`, when the server knows it (sign-ins and failed
    /// sign-ins).
    #[serde(default)]
    pub asn: Option<u32>,
    /// The autonomous system's organisation.
    #[serde(default)]
    pub as_org: Option<String>,
    /// The public id of the browser (sign-ins, and failed sign-ins of a browser that
    /// presented its device cookie); see [`Session::device_id`].
    #[serde(default)]
    pub device_id: Option<String>,
    pub auth_method: Option<AuthMethod>,
    /// `self`, `admin`, `inactivity`, `wrong_password`, ...
    #[cfg_attr(feature = "ts", ts(type = "EventReason | null"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub reason: Option<EventReason>,
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub details: Option<serde_json::Value>,
}

impl AuditEvent {
    /// The most attempts one event is taken to stand for (its count is data from the wire).
    pub const MOST_ATTEMPTS: u64 = 1_000_000;

    /// How many sign-in attempts the event stands for: the server writes the attempts
    /// refused while an account is locked as one event a minute (reason `locked`) whose
    /// `details.count` says how many there were; every other event stands for one.
    pub fn attempts(&self) -> u64 {
        let counted = (self.reason == Some(EventReason::Locked))
            .then(|| self.details.as_ref()?.get("count")?.as_u64())
            .flatten();
        counted.map_or(1, |n| n.clamp(1, Self::MOST_ATTEMPTS))
    }
}

/// A workspace's session policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionPolicy {
    /// One of `30m`, `1h`, `8h`, `24h`, `7d` (default), `30d`.
    pub inactivity_timeout: Timeout,
    /// One of `24h`, `7d`, `30d` (default), `90d`.
    pub absolute_timeout: Timeout,
    /// `null` for unlimited, else 1 to 1000.
    pub max_concurrent_sessions: Option<u32>,
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub updated_at: Option<DateTime<Utc>>,
    /// The email of who changed it last.
    pub updated_by: Option<String>,
}

/// `PATCH .../session-policy/`: the fields to change. `max_concurrent_sessions: null` means
/// unlimited; leaving a field out keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionPolicyPatch {
    /// `30m`, `1h`, `8h`, `24h`, `7d` or `30d`; no longer than the absolute timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, nullable = false, pattern = "^(30m|1h|8h|24h|7d|30d)$")
    )]
    pub inactivity_timeout: Option<Timeout>,
    /// `24h`, `7d`, `30d` or `90d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, nullable = false, pattern = "^(24h|7d|30d|90d)$")
    )]
    pub absolute_timeout: Option<Timeout>,
    /// 1 to 1000, or `null` for no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max_concurrent_sessions: Option<Option<u32>>,
}

/// How many sessions a bulk revocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Revoked {
    pub revoked: u64,
}

/// The most sessions one bulk revocation names.
pub const MAX_BULK_REVOKE: usize = 1000;

/// Sessions to revoke at once, of any members of the workspace: 1 to [`MAX_BULK_REVOKE`]
/// distinct ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeSessions {
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub session_ids: Vec<String>,
}

/// What a revocation of chosen sessions did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BulkRevoked {
    /// How many sessions this request ended.
    pub revoked: u64,
    /// Of how many members.
    pub members: u64,
    /// The named sessions that had already ended (expired, signed out or revoked meanwhile);
    /// they are left as they ended.
    pub already_ended: Vec<String>,
}

/// A password confirming a destructive action.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfirmPassword {
    pub password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_request_rejects_unknown_fields() {
        let ok: Result<SignInRequest, _> =
            serde_json::from_str(r#"{"email":"a@b.c","password":"x","medium":"email"}"#);
        assert!(ok.is_ok());
        let extra: Result<SignInRequest, _> = serde_json::from_str(
            r#"{"email":"a@b.c","password":"x","medium":"email","admin":true}"#,
        );
        assert!(extra.is_err());
    }

    #[test]
    fn end_reasons_round_trip_through_their_wire_names() {
        for reason in [
            EndReason::SignOut,
            EndReason::TokenReuse,
            EndReason::IpChange,
        ] {
            assert_eq!(EndReason::parse(reason.as_str()), Some(reason));
            let json = serde_json::to_string(&reason).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        assert_eq!(EndReason::parse("bored"), None);
    }

    #[test]
    fn timestamps_serialise_as_iso_8601_utc_with_z() {
        let at = DateTime::parse_from_rfc3339("2026-04-08T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(
            serde_json::to_string(&at).unwrap_or_default(),
            "\"2026-04-08T12:00:00Z\""
        );
    }
}
