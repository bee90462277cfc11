// Typed wrappers of the app's commands and events. Their names, arguments, answers and
// payloads come from the Rust side (ipc.ts and bindings.ts, both generated); errors arrive as
// CoreError and are rethrown as AppError.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AuditQuery,
  AlertFilter,
  AlertStatus,
  CoreError,
  ExportFormat,
  Indicator,
  PolicyTrial,
  NotifySettings,
  OverviewQuery,
  SessionQuery,
  SyncStatus,
  Trusted,
  Timeout,
} from "./bindings";
import { sentence } from "./format";
import type { Commands, Events } from "./ipc";

/** A command's failure, with the engine's stable kind and the server's code. */
export class AppError extends Error {
  readonly kind: CoreError["kind"];
  readonly serverCode: CoreError["server_code"];

  constructor(e: CoreError) {
    super(e.message);
    this.kind = e.kind;
    this.serverCode = e.server_code;
  }
}

function isCoreError(e: unknown): e is CoreError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as CoreError).kind === "string" &&
    typeof (e as CoreError).message === "string"
  );
}

/** Turns whatever a command threw into an AppError. */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  if (isCoreError(e)) return new AppError(e);
  return new AppError({
    kind: "protocol",
    server_code: null,
    message: typeof e === "string" ? e : "the app could not complete the request",
  });
}

/** Calls a command with the arguments and answer its generated signature says. */
async function call<C extends keyof Commands>(command: C, args: Commands[C]["args"]): Promise<Commands[C]["answer"]> {
  try {
    return await invoke<Commands[C]["answer"]>(command, args);
  } catch (e) {
    throw toAppError(e);
  }
}

/** Listens to an event with the payload its generated signature says. */
function on<E extends keyof Events>(event: E, handler: (payload: Events[E]) => void): Promise<UnlistenFn> {
  return listen<Events[E]>(event, (e) => handler(e.payload));
}

export const api = {
  appInfo: () => call("app_info", {}),
  /** Notes the screen shown, where the window opens again after it was closed to the tray. */
  rememberScreen: (screen: string) => call("remember_screen", { screen }),
  signIn: (server: string, email: string, password: string) =>
    call("sign_in", { server, email, password }),
  /** Starts the demo workspace in a window of its own. */
  openDemo: () => call("open_demo", {}),
  mySessions: () => call("my_sessions", {}),
  signOut: (deleteCache = true) => call("sign_out", { deleteCache }),
  syncStatus: () => call("sync_status", {}),
  alerts: (filter: Partial<AlertFilter> = {}) =>
    call("alerts", {
      filter: { status: null, member_id: null, min_severity: null, before_id: null, limit: 0, ...filter },
    }),
  setAlertStatus: (id: number, status: AlertStatus) => call("set_alert_status", { id, status }),
  revokeAlertSession: (id: number) => call("revoke_alert_session", { id }),
  usualPlaces: (id: number) => call("usual_places", { id }),
  trusted: () => call("trusted", {}),
  setTrusted: (trusted: Trusted) => call("set_trusted", { trusted }),
  notifySettings: () => call("notify_settings", {}),
  setNotifySettings: (settings: NotifySettings) => call("set_notify_settings", { settings }),
  /** Pauses notifications for an hour, or with false resumes them. */
  pauseNotifications: (pause: boolean) => call("pause_notifications", { pause }),
  /** Whether the app starts at login; null in the demo. */
  launchAtLogin: () => call("launch_at_login", {}),
  setLaunchAtLogin: (enabled: boolean) => call("set_launch_at_login", { enabled }),
  overview: (query: OverviewQuery) => call("overview", { query }),
  policy: () => call("policy", {}),
  updatePolicy: (inactivityTimeout: Timeout, absoluteTimeout: Timeout, maxConcurrentSessions: number | null) =>
    call("update_policy", { inactivityTimeout, absoluteTimeout, maxConcurrentSessions }),
  /** Ends the app's own session too: the answer says why the app is signed out. */
  revokeWorkspaceSessions: (password: string) => call("revoke_workspace_sessions", { password }),
  members: () => call("members", {}),
  memberSessions: (memberId: string) => call("member_sessions", { memberId }),
  revokeMemberSession: (memberId: string, sessionId: string) =>
    call("revoke_member_session", { memberId, sessionId }),
  revokeMemberSessions: (memberId: string) => call("revoke_member_sessions", { memberId }),
  /** Null, or why the app is signed out when the session was its own. */
  revokeMySession: (sessionId: string) => call("revoke_my_session", { sessionId }),
  revokeMyOtherSessions: () => call("revoke_my_other_sessions", {}),
  auditEvents: (query: AuditQuery, beforeSeq: number | null, limit: number) =>
    call("audit_events", { query, beforeSeq, limit }),
  exportAudit: (query: AuditQuery, format: ExportFormat) => call("export_audit", { query, format }),
  /** What the app trusts of the audit log (pinned key, verified checkpoint, alarm). */
  logTrust: () => call("log_trust", {}),
  /** Writes an event with the proof that it is in the signed log; the file's path. */
  exportEventProof: (seq: number) => call("export_event_proof", { seq }),
  /** Writes what the audit log's alarm found; the file's path. */
  exportLogEvidence: () => call("export_log_evidence", {}),
  /** After an alarm: verify afresh (with `repin`, pin the server's current key). */
  resumeLog: (repin: boolean) => call("resume_log", { repin }),
  sessionsPage: (query: SessionQuery, offset: number, limit: number) =>
    call("sessions_page", { query, offset, limit }),
  sessionFacets: () => call("session_facets", {}),
  /** The active sessions of a list, to revoke at once (their count, members, oldest 1,000 ids). */
  sessionSelection: (query: SessionQuery) => call("session_selection", { query }),
  /** Revokes the chosen sessions (1 to 1,000) in one request: all of them, or none. */
  revokeSessions: (sessionIds: string[]) => call("revoke_sessions", { sessionIds }),
  /** Reads a pivot's search box: an address, a network, `country:GB` or `device:…`. */
  parseIndicator: (text: string) => call("parse_indicator", { text }),
  /** The /24 (IPv4) or /48 (IPv6) around an address. */
  networkOf: (ip: string) => call("network_of", { ip }),
  pivotSummary: (indicator: Indicator) => call("pivot_summary", { indicator }),
  pivotEvents: (indicator: Indicator, offset: number, limit: number) =>
    call("pivot_events", { indicator, offset, limit }),
  pivotSessions: (indicator: Indicator, offset: number, limit: number) =>
    call("pivot_sessions", { indicator, offset, limit }),
  /** Who was signed in at an instant (RFC 3339), from the cache. */
  moment: (at: string, limit: number) => call("moment", { at, limit }),
  /** A member's latest sign-ins and the trips between them. */
  travelHistory: (memberId: string) => call("travel_history", { memberId }),
  /** What a policy would have changed over the last `days` days. */
  simulatePolicy: (trial: PolicyTrial, days: number) => call("simulate_policy", { trial, days }),
  /** Calls `onOpen` when a notification asks to show an alert (null: the list). */
  onOpenAlert: (onOpen: (id: number | null) => void): Promise<UnlistenFn> =>
    on("open-alert", onOpen),
  /** Calls `onChange` when the notification settings change outside the window (the tray). */
  onNotifySettings: (onChange: (s: NotifySettings) => void): Promise<UnlistenFn> =>
    on("notify-settings", onChange),
  /** Calls `onStatus` with every change of the sync's state; returns the unsubscribe. */
  onSyncStatus: (onStatus: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    on("sync-status", onStatus),
};

/**
 * What to show of a failed command: the engine's sentence, or null once a session the server
 * ended has been handed to `onSignedOut` (which returns the app to the sign-in screen).
 */
export function shownError(e: unknown, onSignedOut: (reason: string | null) => void): string | null {
  const err = toAppError(e);
  if (err.kind === "signed_out" || err.kind === "not_signed_in") {
    onSignedOut(err.message);
    return null;
  }
  return sentence(err.message);
}
