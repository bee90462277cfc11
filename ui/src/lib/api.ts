// Typed wrappers of the app's commands. The types come from the Rust definitions
// (bindings.ts); errors arrive as CoreError and are rethrown as AppError.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AccountView,
  Alert,
  AuditEvent,
  AuditQuery,
  AlertFilter,
  AlertStatus,
  AppInfo,
  CoreError,
  Exported,
  ExportFormat,
  Member,
  NotifySettings,
  Overview,
  OverviewQuery,
  Revoked,
  Session,
  SessionFacets,
  SessionPage,
  SessionPolicy,
  SessionQuery,
  SignedOutNote,
  SignOut,
  SyncStatus,
  Trusted,
  Timeout,
  UsualPlace,
  WorkspaceRevoked,
} from "./bindings";
import { sentence } from "./format";

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

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toAppError(e);
  }
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  signIn: (server: string, email: string, password: string) =>
    call<AccountView>("sign_in", { server, email, password }),
  /** Starts the demo workspace in a window of its own. */
  openDemo: () => call<null>("open_demo"),
  mySessions: () => call<Session[]>("my_sessions"),
  signOut: (deleteCache = true) => call<SignOut>("sign_out", { deleteCache }),
  syncStatus: () => call<SyncStatus>("sync_status"),
  alerts: (filter: Partial<AlertFilter> = {}) =>
    call<Alert[]>("alerts", {
      filter: { status: null, member_id: null, min_severity: null, before_id: null, limit: 0, ...filter },
    }),
  setAlertStatus: (id: number, status: AlertStatus) => call<Alert>("set_alert_status", { id, status }),
  revokeAlertSession: (id: number) => call<Alert>("revoke_alert_session", { id }),
  usualPlaces: (id: number) => call<UsualPlace[]>("usual_places", { id }),
  trusted: () => call<Trusted>("trusted"),
  setTrusted: (trusted: Trusted) => call<Trusted>("set_trusted", { trusted }),
  notifySettings: () => call<NotifySettings>("notify_settings"),
  setNotifySettings: (settings: NotifySettings) => call<NotifySettings>("set_notify_settings", { settings }),
  /** Pauses notifications for an hour, or with false resumes them. */
  pauseNotifications: (pause: boolean) => call<NotifySettings>("pause_notifications", { pause }),
  /** Whether the app starts at login; null in the demo. */
  launchAtLogin: () => call<boolean | null>("launch_at_login"),
  setLaunchAtLogin: (enabled: boolean) => call<boolean>("set_launch_at_login", { enabled }),
  overview: (query: OverviewQuery) => call<Overview>("overview", { query }),
  policy: () => call<SessionPolicy>("policy"),
  updatePolicy: (inactivityTimeout: Timeout, absoluteTimeout: Timeout, maxConcurrentSessions: number | null) =>
    call<SessionPolicy>("update_policy", { inactivityTimeout, absoluteTimeout, maxConcurrentSessions }),
  /** Ends the app's own session too: the answer says why the app is signed out. */
  revokeWorkspaceSessions: (password: string) => call<WorkspaceRevoked>("revoke_workspace_sessions", { password }),
  members: () => call<Member[]>("members"),
  memberSessions: (memberId: string) => call<Session[]>("member_sessions", { memberId }),
  revokeMemberSession: (memberId: string, sessionId: string) =>
    call<null>("revoke_member_session", { memberId, sessionId }),
  revokeMemberSessions: (memberId: string) => call<Revoked>("revoke_member_sessions", { memberId }),
  /** Null, or why the app is signed out when the session was its own. */
  revokeMySession: (sessionId: string) => call<SignedOutNote | null>("revoke_my_session", { sessionId }),
  revokeMyOtherSessions: () => call<Revoked>("revoke_my_other_sessions"),
  auditEvents: (query: AuditQuery, beforeSeq: number | null, limit: number) =>
    call<AuditEvent[]>("audit_events", { query, beforeSeq, limit }),
  exportAudit: (query: AuditQuery, format: ExportFormat) => call<Exported>("export_audit", { query, format }),
  sessionsPage: (query: SessionQuery, offset: number, limit: number) =>
    call<SessionPage>("sessions_page", { query, offset, limit }),
  sessionFacets: () => call<SessionFacets>("session_facets"),
  /** Calls `onOpen` when a notification asks to show an alert (null: the list). */
  onOpenAlert: (onOpen: (id: number | null) => void): Promise<UnlistenFn> =>
    listen<number | null>("open-alert", (e) => onOpen(e.payload)),
  /** Calls `onChange` when the notification settings change outside the window (the tray). */
  onNotifySettings: (onChange: (s: NotifySettings) => void): Promise<UnlistenFn> =>
    listen<NotifySettings>("notify-settings", (e) => onChange(e.payload)),
  /** Calls `onStatus` with every change of the sync's state; returns the unsubscribe. */
  onSyncStatus: (onStatus: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    listen<SyncStatus>("sync-status", (e) => onStatus(e.payload)),
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
