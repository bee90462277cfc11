//! The rows and values both backends read and write, and the rules on them that need no
//! database (a session's expiry instant and reason, an email's lockout key).

use chrono::{DateTime, Duration, Utc};
use setget_protocol::{
    AuditEvent, AuthMethod, EndReason, EventKind, EventReason, Location, Role, Session,
    SessionPolicy, SessionStatus, Timeout, WorkspaceRef,
};

/// A member row, with what only the server sees.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// A workspace row with its session policy.
#[derive(Debug, Clone)]
pub struct WorkspaceRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub inactivity_timeout: Timeout,
    pub absolute_timeout: Timeout,
    pub max_concurrent_sessions: Option<u32>,
    pub policy_updated_at: Option<DateTime<Utc>>,
    pub policy_updated_by: Option<String>,
}

/// What a new session records about the request that created it.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_digest: &'a [u8],
    pub user_agent: &'a str,
    pub ip: &'a str,
    pub location: Option<&'a Location>,
    /// The autonomous system of `ip`, when known.
    pub autonomous_system: Option<&'a crate::asn::AsInfo>,
    /// The public id of the browser's device cookie.
    pub device_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// An audit event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub event: EventKind,
    pub member_id: Option<&'a str>,
    pub member_email: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub device: Option<&'a str>,
    pub reason: Option<EventReason>,
    pub actor_id: Option<&'a str>,
    pub actor_email: Option<&'a str>,
    pub auth_method: Option<AuthMethod>,
    pub location: Option<&'a str>,
    /// The autonomous system of `ip` (sign-ins and failed sign-ins).
    pub asn: Option<u32>,
    pub as_org: Option<&'a str>,
    /// The public id of the browser (sign-ins and failed sign-ins).
    pub device_id: Option<&'a str>,
    /// JSON text.
    pub details: Option<String>,
}

impl NewEvent<'_> {
    /// An event of `kind` with nothing else filled in.
    pub fn of(kind: EventKind) -> Self {
        Self {
            event: kind,
            member_id: None,
            member_email: None,
            session_id: None,
            ip: None,
            user_agent: None,
            device: None,
            reason: None,
            actor_id: None,
            actor_email: None,
            auth_method: None,
            location: None,
            asn: None,
            as_org: None,
            device_id: None,
            details: None,
        }
    }
}

impl<'a> NewEvent<'a> {
    /// `member` signed in: session `session_id`, from `device` (the label of the request's
    /// user agent), at `location` (JSON text).
    pub(crate) fn signed_in(
        member: &'a MemberRow,
        new: &'a NewSession<'a>,
        session_id: &'a str,
        device: &'a str,
        location: Option<&'a str>,
    ) -> Self {
        Self {
            member_id: Some(&member.id),
            member_email: Some(&member.email),
            session_id: Some(session_id),
            ip: Some(new.ip),
            user_agent: Some(new.user_agent),
            device: Some(device),
            auth_method: Some(AuthMethod::Password),
            location,
            asn: new.autonomous_system.map(|a| a.asn),
            as_org: new.autonomous_system.and_then(|a| a.org.as_deref()),
            device_id: new.device_id,
            ..Self::of(EventKind::SignedIn)
        }
    }

    /// `session` ended as `ending` says.
    pub(crate) fn ended(session: &'a Session, ending: &'a Ending<'a>) -> Self {
        Self {
            member_id: Some(&session.member_id),
            member_email: Some(&session.member_email),
            session_id: Some(&session.id),
            ip: Some(&session.last_ip),
            user_agent: Some(&session.user_agent),
            device: Some(&session.device),
            reason: ending.event_reason.clone(),
            actor_id: ending.actor.map(|a| a.0),
            actor_email: ending.actor.map(|a| a.1),
            ..Self::of(ending.event.clone())
        }
    }

    /// A sign-in of `member` failed for `reason`, from `ip` with `user_agent` (`device` its
    /// label).
    pub(crate) fn sign_in_failed(
        member: &'a MemberRow,
        ip: &'a str,
        user_agent: &'a str,
        device: &'a str,
        reason: EventReason,
    ) -> Self {
        Self {
            member_id: Some(&member.id),
            member_email: Some(&member.email),
            ip: Some(ip),
            user_agent: Some(user_agent),
            device: Some(device),
            reason: Some(reason),
            ..Self::of(EventKind::SignInFailed)
        }
    }

    /// `attempt` at `member`'s account failed for `reason` (`device` the label of its user
    /// agent), with the autonomous system of its address.
    pub(crate) fn failed_attempt(
        attempt: &'a Attempt<'a>,
        member: &'a MemberRow,
        device: &'a str,
        reason: EventReason,
    ) -> Self {
        Self {
            asn: attempt.autonomous_system.map(|a| a.asn),
            as_org: attempt.autonomous_system.and_then(|a| a.org.as_deref()),
            device_id: attempt.device_id,
            ..Self::sign_in_failed(member, attempt.ip, attempt.user_agent, device, reason)
        }
    }

    /// `summary` of a bulk ending: who did it and why, as each ending says, and how many.
    pub(crate) fn summary_of(mut summary: Self, ending: &'a Ending<'a>, ended: u64) -> Self {
        summary.reason = ending.event_reason.clone();
        (summary.actor_id, summary.actor_email) = ending.actor.unzip();
        // Details the summary brings (an object) keep their fields beside the count.
        let mut details = summary
            .details
            .as_deref()
            .and_then(|d| serde_json::from_str::<serde_json::Map<_, _>>(d).ok())
            .unwrap_or_default();
        details.insert("revoked".to_owned(), ended.into());
        summary.details = Some(serde_json::Value::Object(details).to_string());
        summary
    }

    /// `actor` (id, email) changed the policy from `old` to `new`.
    pub(crate) fn policy_updated(
        actor: (&'a str, &'a str),
        old: &SessionPolicy,
        new: &SessionPolicy,
    ) -> Self {
        let policy_json = |p: &SessionPolicy| {
            serde_json::json!({
                "inactivity_timeout": p.inactivity_timeout,
                "absolute_timeout": p.absolute_timeout,
                "max_concurrent_sessions": p.max_concurrent_sessions,
            })
        };
        Self {
            actor_id: Some(actor.0),
            actor_email: Some(actor.1),
            details: Some(
                serde_json::json!({"old": policy_json(old), "new": policy_json(new)}).to_string(),
            ),
            ..Self::of(EventKind::PolicyUpdated)
        }
    }
}

impl NewEvent<'_> {
    /// The log key `key` (`name+id+base64`) replaced the old one, which signed `statement`.
    pub(crate) fn log_key_rotated(key: &str, statement: &str) -> Self {
        Self {
            details: Some(serde_json::json!({ "key": key, "statement": statement }).to_string()),
            ..Self::of(EventKind::LogKeyRotated)
        }
    }
}

/// One minute's count of refused attempts on a locked email, as stored.
pub(crate) struct Refusals {
    pub(crate) member_id: Option<String>,
    pub(crate) first_at: i64,
    pub(crate) last_at: i64,
    pub(crate) count: i64,
    pub(crate) ip: String,
    pub(crate) user_agent: String,
}

impl Refusals {
    /// The audit event of these refusals of `member`: a failed sign-in for the reason
    /// `locked`, with the count and the minute's first and last attempt; `device` is the
    /// user agent's label.
    pub(crate) fn event<'a>(&'a self, member: &'a MemberRow, device: &'a str) -> NewEvent<'a> {
        let details = serde_json::json!({
            "count": self.count,
            "first_at": from_ts(self.first_at),
            "last_at": from_ts(self.last_at),
        });
        NewEvent {
            details: Some(details.to_string()),
            ..NewEvent::sign_in_failed(
                member,
                &self.ip,
                &self.user_agent,
                device,
                EventReason::Locked,
            )
        }
    }
}

pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

impl WorkspaceRow {
    /// The policy as the API shows it.
    pub fn policy(&self) -> SessionPolicy {
        SessionPolicy {
            inactivity_timeout: self.inactivity_timeout,
            absolute_timeout: self.absolute_timeout,
            max_concurrent_sessions: self.max_concurrent_sessions,
            updated_at: self.policy_updated_at,
            updated_by: self.policy_updated_by.clone(),
        }
    }

    /// The `{slug, name}` the API shows.
    pub fn to_ref(&self) -> WorkspaceRef {
        WorkspaceRef {
            slug: self.slug.clone(),
            name: self.name.clone(),
        }
    }
}

/// How sessions end: their new status, the reason on the session, the audit event and its
/// reason, and who did it (for admins).
#[derive(Debug, Clone)]
pub struct Ending<'a> {
    pub status: SessionStatus,
    pub reason: EndReason,
    pub at: DateTime<Utc>,
    /// `session.signed_out`, `session.revoked`, `session.expired` or
    /// `session.reauth_required`.
    pub event: EventKind,
    /// The audit event's reason: `self`, `admin`, `concurrent_limit`, `inactivity`, ...
    pub event_reason: Option<EventReason>,
    /// `(id, email)` of the admin who revoked it.
    pub actor: Option<(&'a str, &'a str)>,
}

impl Ending<'_> {
    /// A revocation for `reason`, audited as `session.revoked` with `event_reason`.
    pub fn revoked<'a>(
        reason: EndReason,
        event_reason: EventReason,
        at: DateTime<Utc>,
        actor: Option<(&'a str, &'a str)>,
    ) -> Ending<'a> {
        Ending {
            status: SessionStatus::Revoked,
            reason,
            at,
            event: EventKind::Revoked,
            event_reason: Some(event_reason),
            actor,
        }
    }

    /// The expiry of `s`, due: at its exact instant, for the reason it ran out.
    pub fn expired(s: &Session) -> Ending<'static> {
        let reason = expiry_reason(s);
        Ending {
            status: SessionStatus::Expired,
            reason,
            at: s.expires_at,
            event: EventKind::Expired,
            event_reason: Some(reason.into()),
            actor: None,
        }
    }

    /// The revocation, at `at`, of a member's oldest sessions beyond the concurrent limit.
    pub fn concurrent_limit(at: DateTime<Utc>) -> Ending<'static> {
        Ending::revoked(
            EndReason::ConcurrentLimit,
            EventReason::ConcurrentLimit,
            at,
            None,
        )
    }
}

/// The sessions a new one pushes beyond the limit of `max`: the oldest of `active` (oldest
/// first), so many that the new one makes `max`.
pub(crate) fn beyond_limit(active: &[Session], max: u32) -> &[Session] {
    let excess = (active.len() + 1).saturating_sub(max as usize);
    &active[..excess.min(active.len())]
}

/// Whether a session that has reached `expires_at` ran out of its absolute or its inactivity
/// time (absolute wins a tie).
pub fn expiry_reason(s: &Session) -> EndReason {
    if s.created_at + s.absolute_timeout.duration() <= s.expires_at {
        EndReason::Absolute
    } else {
        EndReason::Inactivity
    }
}

/// `min(last_active_at + inactivity, created_at + absolute)`.
pub fn expires_at(
    created_at: DateTime<Utc>,
    last_active_at: DateTime<Utc>,
    inactivity: Timeout,
    absolute: Timeout,
) -> DateTime<Utc> {
    (last_active_at + inactivity.duration()).min(created_at + absolute.duration())
}

/// Whose sessions a query is about.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Member(&'a str),
    Workspace(&'a str),
}

impl Scope<'_> {
    /// The filter column (a fixed name) and its value.
    pub(crate) fn column(&self) -> (&'static str, &str) {
        match self {
            Self::Member(id) => ("member_id", id),
            Self::Workspace(id) => ("workspace_id", id),
        }
    }
}

/// A session with what authentication needs to know about its current token.
pub(crate) struct FoundSession {
    pub(crate) session: Session,
    pub(crate) workspace_id: String,
    pub(crate) issued_at: DateTime<Utc>,
    pub(crate) confirmed: bool,
    pub(crate) digest: Vec<u8>,
}

impl FoundSession {
    /// What a token that is this session's current one is.
    pub(crate) fn current(self) -> TokenLookup {
        TokenLookup::Current {
            session: self.session,
            workspace_id: self.workspace_id,
            issued_at: self.issued_at,
            confirmed: self.confirmed,
        }
    }

    /// What a token this session replaced is: valid until `valid_until`, and replaced by
    /// `successor`.
    pub(crate) fn retired(
        self,
        valid_until: DateTime<Utc>,
        successor: Option<&[u8]>,
    ) -> TokenLookup {
        TokenLookup::Retired {
            successor_unconfirmed: !self.confirmed && successor == Some(self.digest.as_slice()),
            session: self.session,
            workspace_id: self.workspace_id,
            valid_until,
            current_digest: self.digest,
            current_issued_at: self.issued_at,
        }
    }
}

/// What a presented token is.
#[derive(Debug, Clone)]
pub enum TokenLookup {
    /// The session's current token, issued at `issued_at`; `confirmed` once a request has
    /// used it (a fresh rotation is unconfirmed until then).
    Current {
        session: Session,
        workspace_id: String,
        issued_at: DateTime<Utc>,
        confirmed: bool,
    },
    /// A token the session replaced, accepted until `valid_until` — and after it, as long as
    /// the token that replaced it is still the session's current one and was never used
    /// (`successor_unconfirmed`, with `current_digest` to rotate from).
    Retired {
        session: Session,
        workspace_id: String,
        valid_until: DateTime<Utc>,
        successor_unconfirmed: bool,
        current_digest: Vec<u8>,
        /// When the session's current token was issued.
        current_issued_at: DateTime<Utc>,
    },
    /// No session has ever had it.
    Unknown,
}

/// Filters of the audit log listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub after: i64,
    pub event: Option<String>,
    pub member_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A member to create along with a workspace: email, display name, role, password hash.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// How long a failure is remembered: a lock still in force began within the last 15 minutes,
/// from failures that began at most 15 minutes before that.
pub const FAILURE_MEMORY: Duration = Duration::minutes(30);

/// The refused attempts on one locked email within this long become one audit event.
pub const REFUSAL_WINDOW: Duration = Duration::minutes(1);

/// The key an email is kept under: the SHA-256 of the normalised email.
pub(crate) fn email_key(email: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(email.as_bytes()).to_vec()
}

/// Who tried, from where, and when.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The normalised email.
    pub email: &'a str,
    /// Its member, when it has one.
    pub member: Option<&'a MemberRow>,
    pub at: DateTime<Utc>,
    pub ip: &'a str,
    pub user_agent: &'a str,
    /// The autonomous system of `ip`, when known.
    pub autonomous_system: Option<&'a crate::asn::AsInfo>,
    /// The public id of the device cookie the browser presented, if any.
    pub device_id: Option<&'a str>,
}

impl NewEvent<'_> {
    /// The event as the API shows it once appended as `seq` with `id` at `at`: what its leaf
    /// in the log's tree commits to.
    pub(crate) fn as_appended(&self, seq: i64, id: &str, at: DateTime<Utc>) -> AuditEvent {
        AuditEvent {
            asn: self.asn,
            as_org: self.as_org.map(str::to_owned),
            device_id: self.device_id.map(str::to_owned),
            seq,
            id: id.to_owned(),
            event: self.event.clone(),
            at: from_ts(ts(at)),
            member_id: self.member_id.map(str::to_owned),
            member_email: self.member_email.map(str::to_owned),
            session_id: self.session_id.map(str::to_owned),
            actor_id: self.actor_id.map(str::to_owned),
            actor_email: self.actor_email.map(str::to_owned),
            ip: self.ip.map(str::to_owned),
            user_agent: self.user_agent.map(str::to_owned),
            device: self.device.map(str::to_owned),
            location: self.location.and_then(|l| serde_json::from_str(l).ok()),
            auth_method: self.auth_method,
            reason: self.reason.clone(),
            details: self
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok()),
        }
    }
}

/// The hashes kept with the event `seq` whose leaf is `leaf`, as one blob: the leaf's hash,
/// then the roots of the subtrees it completes (see `setget_tlog::tree`); `read` answers the
/// hashes of nodes already in the tree.
pub(crate) fn tree_blob<E>(
    seq: i64,
    leaf: setget_tlog::Hash,
    read: impl FnOnce(&[setget_tlog::Node]) -> Result<Vec<setget_tlog::Hash>, E>,
    wrap: impl FnOnce(setget_tlog::tree::Error) -> E,
) -> Result<Vec<u8>, E> {
    let index = leaf_index(seq);
    let siblings = setget_tlog::tree::siblings_for_append(index);
    let siblings = if siblings.is_empty() {
        Vec::new()
    } else {
        read(&siblings)?
    };
    setget_tlog::tree::hashes_to_store(index, leaf, &siblings)
        .map(|h| h.concat())
        .map_err(wrap)
}

/// The leaf index of the event `seq` (seqs count from 1, leaves from 0).
pub(crate) fn leaf_index(seq: i64) -> u64 {
    u64::try_from(seq - 1).unwrap_or(0)
}

/// Where the hash of `node` is kept: the event's seq and the byte range in its tree blob.
pub(crate) fn node_place(node: setget_tlog::Node) -> (i64, std::ops::Range<usize>) {
    let (leaf, offset) = setget_tlog::tree::holder(node);
    (
        i64::try_from(leaf).map_or(i64::MAX, |l| l + 1),
        offset * 32..offset * 32 + 32,
    )
}

/// The hash of `node` out of the tree blob of the event that keeps it.
pub(crate) fn node_from_blob(
    node: setget_tlog::Node,
    blob: Option<&[u8]>,
) -> Result<setget_tlog::Hash, setget_tlog::tree::Error> {
    let (seq, range) = node_place(node);
    blob.and_then(|b| b.get(range))
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| {
            setget_tlog::tree::Error::Store(format!(
                "the audit log's tree lacks the hash of level {} index {} (event {seq})",
                node.level, node.index
            ))
        })
}

/// A witness's newest co-signature, as stored.
#[derive(Debug, Clone)]
pub struct WitnessRow {
    /// The witness's key (`name+id+base64`).
    pub key: String,
    pub member_email: String,
    pub size: u64,
    /// The root of the checkpoint co-signed.
    pub root: setget_tlog::Hash,
    /// That checkpoint as this server's key signed it, verified when posted.
    pub checkpoint: String,
    /// The co-signature line.
    pub cosignature: String,
}

/// How many witnesses a checkpoint lists: the most recently heard from.
pub const LISTED_WITNESSES: u32 = 50;

/// How many witness keys one member keeps (an app per device, a reinstall now and then); a
/// member's next one replaces their least recently heard from.
pub const WITNESS_KEYS_PER_MEMBER: u32 = 10;
