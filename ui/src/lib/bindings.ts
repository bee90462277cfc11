// Generated from the Rust definitions by `cargo xtask codegen`; do not edit.

export type AppInfo = { version: string, account: AccountView | null, 
/**
 * The embedded demo server's address, in demo mode.
 */
demo_server: string | null, 
/**
 * The alert to show first, if the window was opened on one.
 */
open_alert: number | null, 
/**
 * The screen to show first: the one the window showed when it was last closed.
 */
screen: string | null, };
export type AccountView = { server: string, email: string, workspace_slug: string, workspace_name: string, 
/**
 * Set when the server ended the session: sign in again.
 */
signed_out: SignedOutNote | null, };
export type SignedOutNote = { 
/**
 * The server's code: `session_invalid`, `session_expired` or `reauth_required`; none
 * when the admin ended the app's own session from the app.
 */
code: ErrorCode | null, 
/**
 * The server's sentence, or the app's when the admin ended its session from it.
 */
reason: string, at: string, };
export type SignOut = { at_server: AtServer, 
/**
 * The session the app signed out of, to find it under My sessions later.
 */
session_id: string | null, 
/**
 * What happened, in a sentence for the admin.
 */
message: string, };
export type AtServer = "ended" | "already_ended" | "still_live";
export type SyncState = { "state": "idle" } | { "state": "syncing", done: number, total: number, } | { "state": "live" } | { "state": "polling" } | { "state": "offline", since: string, reason: string, } | { "state": "signed_out", code: ErrorCode | null, reason: string, };
export type SyncStatus = { last_sync: string | null, 
/**
 * Alerts this sync raised since the app started: the window and the tray count again
 * when it moves.
 */
alerts: number, } & ({ "state": "idle" } | { "state": "syncing", done: number, total: number, } | { "state": "live" } | { "state": "polling" } | { "state": "offline", since: string, reason: string, } | { "state": "signed_out", code: ErrorCode | null, reason: string, });
export type CatchUp = { 
/**
 * Members fetched (0 when the list was not due).
 */
members: number, session_changes: number, audit_events: number, 
/**
 * Alerts the detector raised over the new events.
 */
alerts: number, };
export type StatusReport = { server: string, email: string, workspace: string, cache_path: string, cache_bytes: number, cursors: Cursors, counts: Counts, last_sync: string | null, } & ({ "state": "idle" } | { "state": "syncing", done: number, total: number, } | { "state": "live" } | { "state": "polling" } | { "state": "offline", since: string, reason: string, } | { "state": "signed_out", code: ErrorCode | null, reason: string, });
export type Cursors = { 
/**
 * The highest audit `seq` applied; the log is complete from 1 to here.
 */
audit_seq: number, 
/**
 * The highest session `change_seq` applied.
 */
sessions_change_seq: number, };
export type Counts = { members: number, sessions: number, active_sessions: number, audit_events: number, };
export type CoreError = { kind: ErrorKind, 
/**
 * The server's machine code, when the server answered with an error.
 */
server_code: ErrorCode | null, message: string, };
export type ErrorKind = "invalid_input" | "insecure_url" | "unreachable" | "server" | "signed_out" | "not_signed_in" | "keyring" | "storage" | "protocol" | "notification" | "internal" | "integrity";
export type ErrorCode = "invalid_json" | "invalid_request" | "invalid_policy" | "invalid_credentials" | "session_invalid" | "session_expired" | "reauth_required" | "forbidden" | "password_confirmation_failed" | "csrf_rejected" | "not_found" | "method_not_allowed" | "conflict" | "payload_too_large" | "unsupported_media_type" | "too_many_attempts" | "misdirected_request" | "request_timeout" | "internal" | "unavailable" | "unknown";
export type Session = { id: string, member_id: string, member_email: string, 
/**
 * "Chrome on macOS", or "SetGet Admin on Linux" for the desktop app.
 */
device: string, browser: string, os: string, user_agent: string, 
/**
 * The IP address the session was created from.
 */
ip: string, 
/**
 * The IP address of the session's latest request.
 */
last_ip: string, location: Location | null, 
/**
 * The autonomous system the session was created from (its network operator), when
 * the server knows it.
 */
asn: number | null, 
/**
 * The autonomous system's organisation, e.g. `"Cloudflare, Inc."`.
 */
as_org: string | null, 
/**
 * The public id of the browser the session signed in from, `dev_` and 32 hex digits:
 * the same for every sign-in of one browser profile until its cookies are cleared
 * (from the [`crate::DEVICE_COOKIE`] a sign-in sets). Absent on sessions older than
 * device ids.
 */
device_id: string | null, auth_method: AuthMethod, created_at: string, last_active_at: string, 
/**
 * `min(last_active_at + inactivity_timeout, created_at + absolute_timeout)`.
 */
expires_at: string, 
/**
 * The inactivity timeout in force when the session was created, e.g. `"7d"`.
 */
inactivity_timeout: Timeout, 
/**
 * The absolute timeout in force when the session was created, e.g. `"30d"`.
 */
absolute_timeout: Timeout, status: SessionStatus, ended_at: string | null, end_reason: EndReason | null, change_seq: number, 
/**
 * Present only on the `/api/users/me/` endpoints: whether this is the caller's session.
 */
current?: boolean, };
export type Location = { city: string | null, region: string | null, country: string | null, country_code: string | null, latitude: number | null, longitude: number | null, };
export type AuthMethod = "password";
export type SessionStatus = "active" | "revoked" | "expired" | "signed_out";
export type EndReason = "sign_out" | "revoked_self" | "revoked_admin" | "concurrent_limit" | "workspace_revoke" | "inactivity" | "absolute" | "ip_change" | "user_agent_change" | "token_reuse" | "unknown";
export type Role = "owner" | "admin" | "member";
export type Alert = { id: number, 
/**
 * The audit event it is about.
 */
event_id: string, seq: number, 
/**
 * `session.signed_in` or `auth.sign_in_failed`.
 */
event: EventKind, member_id: string | null, member_email: string | null, 
/**
 * The session the sign-in created (none for a password attack).
 */
session_id: string | null, 
/**
 * When the sign-in (or the failure) happened.
 */
at: string, 
/**
 * When the detector judged it.
 */
raised_at: string, severity: Severity, reasons: Array<Reason>, ip: string | null, device: string | null, 
/**
 * "Paris, FR", or None when the IP did not geolocate.
 */
place: string | null, 
/**
 * The sign-in's country, autonomous system and its organisation, as its audit event
 * has them (for pivots).
 */
country_code: string | null, asn: number | null, as_org: string | null, status: AlertStatus, status_at: string | null, 
/**
 * Raised while the first sync read the workspace's history.
 */
from_history: boolean, };
export type AlertStatus = "new" | "acknowledged" | "dismissed" | "familiar";
export type AlertFilter = { status: AlertStatus | null, member_id: string | null, min_severity: Severity | null, 
/**
 * Alerts with an id below this one (paging newest first).
 */
before_id: number | null, 
/**
 * At most this many (100 when 0).
 */
limit: number, };
export type Reason = { "kind": "new_country", country: string, } | { "kind": "new_city", city: string, } | { "kind": "new_network", network: string, } | { "kind": "new_device", device: string, } | { "kind": "hosting_network", network: string, } | { "kind": "known_device", device_id: string, } | { "kind": "impossible_travel", from: string, to: string, km: number, kmh: number, } | { "kind": "password_attack_on_member", failures: number, } | { "kind": "password_attack_from_ip", ip: string, failures: number, members: number, };
export type Severity = "low" | "medium" | "high";
export type Trusted = { 
/**
 * CIDRs: `10.0.0.0/8`, `2001:db8::/32`; a bare address is its own /32 or /128.
 */
networks: Array<string>, 
/**
 * ISO 3166-1 alpha-2 codes, upper case.
 */
countries: Array<string>, };
export type UsualPlace = { 
/**
 * "London, GB"; "GB" when the city is unknown; "Unknown location" without one.
 */
place: string, sign_ins: number, last_at: string, };
export type NotifySettings = { enabled: boolean, 
/**
 * Alerts below this severity are listed, not notified.
 */
min_severity: Severity, 
/**
 * Until this instant alerts are listed, not notified ("Pause notifications for 1 hour").
 */
paused_until: string | null, };
export type SessionPolicy = { 
/**
 * One of `30m`, `1h`, `8h`, `24h`, `7d` (default), `30d`.
 */
inactivity_timeout: Timeout, 
/**
 * One of `24h`, `7d`, `30d` (default), `90d`.
 */
absolute_timeout: Timeout, 
/**
 * `null` for unlimited, else 1 to 1000.
 */
max_concurrent_sessions: number | null, updated_at: string | null, 
/**
 * The email of who changed it last.
 */
updated_by: string | null, };
export type Timeout = "30m" | "1h" | "8h" | "24h" | "7d" | "30d" | "90d";
export type Revoked = { revoked: number, };
export type WorkspaceRevoked = { revoked: number, signed_out: SignedOutNote, };
export type Member = { id: string, email: string, display_name: string, role: Role, active_sessions: number, last_active_at: string | null, };
export type AuditEvent = { 
/**
 * Gap-free and increasing within a workspace.
 */
seq: number, id: string, 
/**
 * `session.signed_in`, `session.revoked`, `auth.sign_in_failed`, ...
 */
event: EventKind, 
/**
 * When it happened; for `session.expired`, the instant the session expired.
 */
at: string, member_id: string | null, member_email: string | null, session_id: string | null, 
/**
 * Who did it, when it was someone else than the member (an admin revoking).
 */
actor_id: string | null, actor_email: string | null, ip: string | null, user_agent: string | null, device: string | null, location: Location | null, 
/**
 * The autonomous system of `ip`, when the server knows it (sign-ins and failed
 * sign-ins).
 */
asn: number | null, 
/**
 * The autonomous system's organisation.
 */
as_org: string | null, 
/**
 * The public id of the browser (sign-ins, and failed sign-ins of a browser that
 * presented its device cookie); see [`Session::device_id`].
 */
device_id: string | null, auth_method: AuthMethod | null, 
/**
 * `self`, `admin`, `inactivity`, `wrong_password`, ...
 */
reason: EventReason | null, details: unknown, };
export type AuditQuery = { 
/**
 * An event type, e.g. `session.signed_in`.
 */
event: string | null, member_id: string | null, 
/**
 * From this instant (RFC 3339)...
 */
since: string | null, 
/**
 * ...to this one.
 */
until: string | null, };
export type ExportFormat = "csv" | "json";
export type Exported = { path: string, events: number, };
export type SessionQuery = { 
/**
 * Active (the list's first view), ended, or all.
 */
status: StatusFilter, 
/**
 * Only sessions that ended for this reason.
 */
end_reason: EndReason | null, 
/**
 * Only sessions that ended within this many days.
 */
ended_within_days: number | null, member_id: string | null, country_code: string | null, device: string | null, 
/**
 * Searched in the member's email, the IP, the device and the city.
 */
text: string | null, 
/**
 * Only sessions at least this many days old.
 */
min_age_days: number | null, sort: SessionSort, };
export type SessionSort = "last_active" | "created" | "member" | "ended";
export type StatusFilter = "active" | "ended" | "all";
export type SessionSelection = { 
/**
 * The oldest of them, at most as many as one revocation may name (1,000).
 */
ids: Array<string>, 
/**
 * How many active sessions the list has.
 */
sessions: number, 
/**
 * Of how many members.
 */
members: number, };
export type BulkRevoked = { 
/**
 * How many sessions this request ended.
 */
revoked: number, 
/**
 * Of how many members.
 */
members: number, 
/**
 * The named sessions that had already ended (expired, signed out or revoked meanwhile);
 * they are left as they ended.
 */
already_ended: Array<string>, };
export type Indicator = { "kind": "ip", "value": string } | { "kind": "network", "value": string } | { "kind": "device", "value": string } | { "kind": "country", "value": string } | { "kind": "asn", "value": number } | { "kind": "as_org", "value": string };
export type PivotSummary = { indicator: Indicator, label: string, 
/**
 * Sign-ins and failed sign-ins (events).
 */
events: number, sessions: number, active_sessions: number, 
/**
 * How many members the active sessions belong to.
 */
active_members: number, 
/**
 * The active sessions' ids, up to the most one revocation may name; when there are more,
 * `active_sessions` says how many.
 */
active_session_ids: Array<string>, 
/**
 * The first and last sign-in, failure, session start or activity seen.
 */
first_at: string | null, last_at: string | null, 
/**
 * By events, then sessions, most first.
 */
members: Array<PivotMember>, };
export type PivotMember = { 
/**
 * `None` for failed sign-ins to an address no member has.
 */
member_id: string | null, member_email: string | null, sign_ins: number, 
/**
 * Failed sign-ins, each refused attempt counted.
 */
failures: number, sessions: number, active_sessions: number, first_at: string | null, last_at: string | null, };
export type Moment = { at: string, 
/**
 * The sessions signed in then, newest first, up to the limit asked for.
 */
sessions: Array<Session>, 
/**
 * How many sessions were signed in then.
 */
total: number, 
/**
 * Of how many members.
 */
members: number, 
/**
 * Where they were (sessions within about 10 km are one place), most first.
 */
places: Array<Place>, 
/**
 * The last instant before `at` at which a session began or ended, if any.
 */
previous: string | null, 
/**
 * The first instant after `at`, up to `now`, at which a session began or ended, if any.
 */
next: string | null, };
export type TravelHistory = { member_id: string, sign_ins: Array<SignInPoint>, trips: Array<Trip>, 
/**
 * Whether older sign-ins were left out (only the latest `limit` are read).
 */
truncated: boolean, };
export type SignInPoint = { seq: number, at: string, session_id: string | null, ip: string | null, device: string | null, location: Location | null, };
export type Trip = { 
/**
 * The sign-ins it goes between (their `seq`).
 */
from_seq: number, to_seq: number, km: number, 
/**
 * Hours between the two sign-ins.
 */
hours: number, 
/**
 * km/h; `None` when both happened at the same instant.
 */
kmh: number | null, 
/**
 * Faster than the detector believes anyone travels.
 */
impossible: boolean, };
export type PolicyTrial = { inactivity_timeout: Timeout, absolute_timeout: Timeout, 
/**
 * `None`: unlimited.
 */
max_concurrent_sessions: number | null, };
export type Simulation = { policy: PolicyTrial, from: string, to: string, 
/**
 * The sessions begun in the window (the ones the policy would have applied to).
 */
sessions: number, 
/**
 * Sessions that would have ended earlier, by rule.
 */
inactivity: number, absolute: number, concurrency: number, 
/**
 * Members with at least one session that would have ended earlier.
 */
members: number, 
/**
 * The members most affected, most sessions first (at most 10).
 */
most_affected: Array<MemberEffect>, };
export type MemberEffect = { member_id: string, member_email: string, 
/**
 * Sessions that would have ended earlier, by rule.
 */
inactivity: number, absolute: number, concurrency: number, 
/**
 * The time those sessions would have lost, in hours.
 */
hours_cut: number, };
export type Rule = "absolute" | "inactivity" | "concurrency";
export type SessionPage = { rows: Array<Session>, total: number, };
export type SessionFacets = { countries: Array<string>, devices: Array<string>, };
export type OverviewQuery = { 
/**
 * 7 or 30 local midnights, oldest first; the last starts today.
 */
day_starts: string[], };
export type Overview = { active_sessions: number, members: number, 
/**
 * Sign-ins since the admin's local midnight.
 */
sign_ins_today: number, failed_sign_ins_today: number, new_alerts: number, 
/**
 * The places of the active sessions, the busiest first; the sessions without a known
 * place are counted apart.
 */
places: Array<Place>, unplaced_sessions: number, 
/**
 * One entry per local day, oldest first, today last.
 */
timeline: Array<DayCount>, };
export type Place = { latitude: number, longitude: number, 
/**
 * A city and the country code of the place (sessions this close share them, as a rule).
 */
city: string | null, country_code: string | null, sessions: number, };
export type DayCount = { 
/**
 * The day's local midnight, as an instant.
 */
day: string, sign_ins: number, failed: number, };
export type LogTrust = { 
/**
 * The pinned log key (`name+id+base64`), None before the first verification.
 */
key: string | null, 
/**
 * The pinned key's fingerprint, to compare with the server operator's.
 */
fingerprint: string | null, 
/**
 * The origin the checkpoints must name (`<key name>/<slug>`).
 */
origin: string | null, pinned_at: string | null, 
/**
 * The newest checkpoint verified, as signed.
 */
checkpoint: string | null, 
/**
 * Its size: every cached event up to this seq is proven in the signed log.
 */
verified_size: number, verified_at: string | null, 
/**
 * How many other admins' apps co-signed a checkpoint consistent with it.
 */
witnesses: number, 
/**
 * Why verification stopped the sync of the audit log, if it did.
 */
alarm: LogAlarm | null, };
export type LogAlarm = { kind: AlarmKind, 
/**
 * What failed, in a sentence.
 */
detail: string, detected_at: string, evidence: Evidence, };
export type AlarmKind = "rewritten" | "rolled_back" | "unknown_key" | "forked";
export type Evidence = { 
/**
 * The key the app trusted.
 */
pinned_key: string | null, 
/**
 * The checkpoint the app had verified before.
 */
trusted_checkpoint: string | null, 
/**
 * The checkpoint that failed, and the key the server named with it.
 */
received_checkpoint: string | null, received_key: string | null, 
/**
 * The root the app computed over the events it holds, and of how many (base64).
 */
cached_root: string | null, cached_size: number | null, 
/**
 * The consistency proof that failed.
 */
proof: ProofEvidence | null, 
/**
 * The other admin's co-signed checkpoint, for a fork.
 */
witness: WitnessEvidence | null, };
export type ProofEvidence = { from: number, to: number, 
/**
 * The hashes, base64.
 */
hashes: Array<string>, };
export type WitnessEvidence = { key: string, member_email: string, checkpoint: string, };
/**
 * What an audit event records, in the order the window lists them.
 */
export const EVENT_KINDS = ["session.signed_in", "session.signed_out", "session.revoked", "session.expired", "session.reauth_required", "auth.sign_in_failed", "user.sessions_terminated", "workspace.sessions_terminated", "selection.sessions_terminated", "settings.security.updated", "audit_log.key_rotated"] as const;
export type KnownEventKind = (typeof EVENT_KINDS)[number];
/** A known name, or one a newer server sent. */
export type EventKind = KnownEventKind | (string & {});
/**
 * Why an audit event happened.
 */
export const EVENT_REASONS = ["self", "admin", "workspace_revoke", "concurrent_limit", "inactivity", "absolute", "ip_change", "user_agent_change", "token_reuse", "wrong_password", "password_confirmation_failed", "locked"] as const;
export type KnownEventReason = (typeof EVENT_REASONS)[number];
/** A known name, or one a newer server sent. */
export type EventReason = KnownEventReason | (string & {});
/** The inactivity timeouts a policy may choose. */
export const INACTIVITY_TIMEOUTS = ["30m", "1h", "8h", "24h", "7d", "30d"] as const satisfies readonly Timeout[];
/** The absolute timeouts a policy may choose. */
export const ABSOLUTE_TIMEOUTS = ["24h", "7d", "30d", "90d"] as const satisfies readonly Timeout[];
/** The concurrent-session limits a policy may set (null: no limit). */
export const CONCURRENT_SESSIONS = { min: 1, max: 1000 } as const;
