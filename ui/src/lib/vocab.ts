/**
 * The audit log's vocabulary in words. The names come from the generated bindings, so a kind
 * or reason the Rust side adds fails the type-check here until it has its words.
 */
import {
  EVENT_KINDS,
  type EndReason,
  type EventKind,
  type EventReason,
  type KnownEventKind,
  type KnownEventReason,
  type Session,
} from "./bindings";

const EVENT_WORDS: Record<KnownEventKind, string> = {
  "session.signed_in": "Signed in",
  "session.signed_out": "Signed out",
  "session.revoked": "Session revoked",
  "session.expired": "Session expired",
  "session.reauth_required": "Re-authentication required",
  "auth.sign_in_failed": "Failed sign-in",
  "user.sessions_terminated": "All of a member's sessions revoked",
  "workspace.sessions_terminated": "All workspace sessions revoked",
  "selection.sessions_terminated": "Chosen sessions revoked",
  "settings.security.updated": "Session policy changed",
  "audit_log.key_rotated": "Audit log key rotated",
};

/** The audit log's event types, with the words the window shows for them. */
export const AUDIT_EVENTS: [KnownEventKind, string][] = EVENT_KINDS.map((k) => [k, EVENT_WORDS[k]]);

const REASON_WORDS: Record<KnownEventReason, string> = {
  self: "By the member",
  admin: "By an admin",
  workspace_revoke: "Every workspace session revoked",
  concurrent_limit: "Over the concurrent-session limit",
  inactivity: "Inactivity timeout",
  absolute: "Absolute timeout",
  ip_change: "IP address changed",
  user_agent_change: "Browser changed",
  token_reuse: "Rotated token reused",
  wrong_password: "Wrong password",
  password_confirmation_failed: "Wrong password to confirm revoking every session",
  locked: "Account locked",
};

function known<K extends string>(words: Record<K, string>, name: string): name is K {
  return Object.hasOwn(words, name);
}

/** The words for an event type (the type itself when unknown). */
export function eventName(event: EventKind): string {
  return known(EVENT_WORDS, event) ? EVENT_WORDS[event] : event;
}

/** An audit reason in words; an unknown one as its code, spaced. */
export function reasonName(reason: EventReason): string {
  return known(REASON_WORDS, reason) ? REASON_WORDS[reason] : reason.replaceAll("_", " ");
}

/**
 * An audit event's reason in words, with what its details count: the refusals of a locked
 * account arrive as one event a minute whose `details.count` says how many there were.
 */
export function eventReason(e: { reason: EventReason | null; details: unknown }): string {
  if (e.reason === null) return "";
  const words = reasonName(e.reason);
  const count = (e.details as { count?: unknown } | null)?.count;
  if (e.reason === "locked" && typeof count === "number" && Number.isInteger(count) && count > 0) {
    return `${words} — ${count} ${count === 1 ? "attempt" : "attempts"} refused`;
  }
  return words;
}

const END_WORDS: Record<EndReason, string> = {
  sign_out: "Signed out",
  revoked_self: "Revoked by the member",
  revoked_admin: "Revoked by an admin",
  concurrent_limit: "Over the concurrent-session limit (oldest revoked)",
  workspace_revoke: "Every workspace session revoked",
  inactivity: "Inactivity timeout",
  absolute: "Absolute timeout",
  ip_change: "IP address changed (IP binding)",
  user_agent_change: "Browser changed (user-agent binding)",
  token_reuse: "Rotated token reused",
  unknown: "Ended (reason unknown to this version)",
};

/** Why sessions end, in words, in the order the Sessions filter offers them. */
export const END_REASONS: [EndReason, string][] = (Object.keys(END_WORDS) as EndReason[])
  .filter((r) => r !== "unknown")
  .map((r) => [r, END_WORDS[r]]);

/** Why a session ended, in words; "" for one still active. */
export function endReason(s: Pick<Session, "status" | "end_reason">): string {
  if (s.status === "active") return "";
  return s.end_reason ? END_WORDS[s.end_reason] : "Ended";
}
