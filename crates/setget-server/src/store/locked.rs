//! [`Locked`]: one unit of work on the store. Its methods are the only way the rest of the
//! server reads or writes the database; each is written once per backend (`sqlite/`, `pg/`)
//! and is one transaction there, with its rule decided inside it.

use chrono::{DateTime, Utc};
use setget_protocol::{AuditEvent, EventReason, Member, Session, Timeout};

use super::rows::{
    Attempt, AuditFilter, Ending, MemberRow, NewEvent, NewMember, NewSession, Scope, TokenLookup,
    WitnessRow, WorkspaceRow,
};
use super::{Result, pg, sqlite};
use setget_tlog::Hash;

/// The store while one request's work holds it (see [`super::Store::lock`]).
#[derive(Debug)]
pub enum Locked<'a> {
    /// The one SQLite connection, held.
    Sqlite(sqlite::Conn<'a>),
    /// A pooled PostgreSQL connection, taken on first use.
    Postgres(Box<pg::Conn<'a>>),
}

/// The methods of [`Locked`], each sent to its backend: SQLite's run here, PostgreSQL's are
/// `async` and run to completion on this (blocking) thread.
macro_rules! units {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        impl Locked<'_> {
            $(
                $(#[$doc])*
                pub fn $name(&mut self, $($arg: $ty),*) -> Result<$ret> {
                    match self {
                        Self::Sqlite(c) => Ok(c.$name($($arg),*)?),
                        Self::Postgres(c) => {
                            let handle = c.handle();
                            handle.block_on(c.$name($($arg),*))
                        }
                    }
                }
            )*
        }
    };
}

units! {
    // The audit log's tree.
    /// How many events the workspace's audit log holds.
    fn log_size(workspace_id: &str) -> u64;
    /// The root of the workspace's tree at `size` events.
    fn log_root(workspace_id: &str, size: u64) -> Hash;
    /// The proof that event `seq` is in the workspace's tree of `size` events.
    fn log_inclusion(workspace_id: &str, seq: i64, size: u64) -> Vec<Hash>;
    /// The proof that the workspace's tree of `old` events is a prefix of the one of `new`.
    fn log_consistency(workspace_id: &str, old: u64, new: u64) -> Vec<Hash>;
    /// Keeps a witness's co-signature of the checkpoint at `witness.size`, posted by
    /// `member_id`, unless it holds one of a later checkpoint.
    fn put_witness(
        workspace_id: &str,
        member_id: &str,
        witness: &WitnessRow,
        now: DateTime<Utc>
    ) -> ();
    /// The witnesses most recently heard from, newest first.
    fn witnesses(workspace_id: &str) -> Vec<WitnessRow>;
    /// Appends the announcement of the log key `key` (`statement`, signed by the old key)
    /// to every workspace's audit log; answers how many workspaces.
    fn announce_log_key(key: &str, statement: &str, now: DateTime<Utc>) -> u64;

    // Workspaces.
    /// A workspace and its policy.
    fn workspace(id: &str) -> WorkspaceRow;
    /// The id of the workspace `slug`, if there is one.
    fn workspace_id_of(slug: &str) -> Option<String>;
    /// Replaces the workspace's policy and audits the change with the old and the new policy.
    fn update_policy(
        workspace_id: &str,
        new: (Timeout, Timeout, Option<u32>),
        actor: (&str, &str),
        now: DateTime<Utc>
    ) -> WorkspaceRow;
    /// Why a workspace with this slug and these members' emails cannot be created, if it
    /// cannot.
    fn slug_or_email_taken(slug: &str, emails: &[&str]) -> Option<String>;
    /// Creates a workspace with its members; answers the workspace id and the member ids in
    /// order.
    fn create_workspace(
        slug: &str,
        name: &str,
        members: &[NewMember],
        now: DateTime<Utc>
    ) -> (String, Vec<String>);

    // Members.
    /// Looks a member up by email, case-insensitively.
    fn member_by_email(email: &str) -> Option<MemberRow>;
    /// A member by id.
    fn member_by_id(id: &str) -> Option<MemberRow>;
    /// The wire form of a member, with their active-session count and latest activity.
    fn member_view(m: &MemberRow) -> Member;
    /// A page of a workspace's members, by display name, optionally filtered by a search in
    /// email and display name; with the total.
    fn members_in(
        workspace_id: &str,
        search: Option<&str>,
        offset: u64,
        limit: u32
    ) -> (Vec<MemberRow>, u64);

    // Sessions.
    /// Creates a session for `member` under the workspace's current policy, audits the
    /// sign-in, revokes the member's oldest sessions beyond the concurrent-session limit, and
    /// answers the new session's id.
    fn create_session(member: &MemberRow, new: &NewSession<'_>) -> String;
    /// Ends one session if it is still active, auditing it; answers whether it ended.
    fn end_session(session: &Session, workspace_id: &str, ending: &Ending<'_>) -> bool;
    /// Ends every session in `sessions` that is still active and appends the `summary` event
    /// (with the ending's reason and actor and `{"revoked": N}`); answers how many ended.
    fn end_sessions(
        sessions: &[Session],
        workspace_id: &str,
        ending: &Ending<'_>,
        summary: Option<NewEvent<'_>>
    ) -> u64;
    /// Expires every active session of the workspace that is due at `now`, each at its exact
    /// instant with its reason, audited once; and writes the events of the minutes of refused
    /// sign-ins that are over. Answers how many expired.
    fn expire_due(workspace_id: &str, now: DateTime<Utc>) -> usize;
    /// Records activity: `last_active_at` (written at most once a minute), the latest IP, and
    /// the expiry that follows, under a new `change_seq`.
    fn touch_session(
        session: &Session,
        workspace_id: &str,
        now: DateTime<Utc>,
        ip: &str
    ) -> ();
    /// A session of the workspace by id, whatever its status.
    fn session_in(workspace_id: &str, session_id: &str) -> Option<Session>;
    /// The workspace's sessions among `ids`, whatever their status, in no particular order;
    /// ids of no session of the workspace are left out.
    fn sessions_named(workspace_id: &str, ids: &[String]) -> Vec<Session>;
    /// A session by id, whatever its status, with its workspace id.
    fn session_by_id(id: &str) -> Option<(Session, String)>;
    /// A page of the scope's active sessions, newest first, with the total count.
    fn active_sessions(scope: Scope<'_>, offset: u64, limit: u32) -> (Vec<Session>, u64);
    /// Every active session of the scope, oldest first (for bulk revocation).
    fn all_active_sessions(scope: Scope<'_>) -> Vec<Session>;
    /// Sessions of any status whose `change_seq` is above `after`, ascending, and how many
    /// such changes there are in all.
    fn sessions_changed_after(workspace_id: &str, after: i64, limit: u32) -> (Vec<Session>, u64);
    /// The address and user agent of the member's latest session, if any.
    fn latest_sign_in_of(member_id: &str) -> Option<(String, String)>;

    // Tokens.
    /// Finds the session of a token digest, current or retired.
    fn lookup_token(digest: &[u8]) -> TokenLookup;
    /// Records that the session's current token has been used: its rotation is complete.
    fn confirm_token(session_id: &str) -> ();
    /// Gives the session a new token, retiring `old_digest` with a grace period until
    /// `grace_until`; answers false, changing nothing, when `old_digest` is no longer the
    /// session's current token (a request elsewhere rotated it first).
    fn rotate_token(
        session_id: &str,
        old_digest: &[u8],
        new_digest: &[u8],
        now: DateTime<Utc>,
        grace_until: DateTime<Utc>
    ) -> bool;

    // The lockout.
    /// When the failed password checks for `email` (normalised) after `since` happened,
    /// newest first.
    fn failures_since(email: &str, since: DateTime<Utc>) -> Vec<DateTime<Utc>>;
    /// Records a failed password check: it counts toward the email's lockout and, for a
    /// member, is audited with `reason`.
    fn record_failure(attempt: &Attempt<'_>, reason: EventReason) -> ();
    /// Counts an attempt refused because its email is locked (one audit event per member and
    /// minute, with the count).
    fn record_refusal(attempt: &Attempt<'_>) -> ();

    // The audit log.
    /// Records a failed sign-in of a known member.
    fn audit_failed_sign_in(
        member: &MemberRow,
        at: DateTime<Utc>,
        ip: &str,
        user_agent: &str,
        reason: EventReason
    ) -> ();
    /// Audit events after `filter.after` in `seq` order, matching the filters, with their
    /// count.
    fn audit_events(workspace_id: &str, filter: &AuditFilter, limit: u32) -> (Vec<AuditEvent>, u64);
}
