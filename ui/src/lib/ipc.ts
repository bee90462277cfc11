// Generated from src-tauri/src/commands.rs and events.rs by `cargo xtask codegen`; do not edit.

import type { AccountView, Alert, AlertFilter, AlertStatus, AppInfo, AuditEvent, AuditQuery, BulkRevoked, ExportFormat, Exported, Indicator, LogTrust, Member, Moment, NotifySettings, Overview, OverviewQuery, PivotSummary, PolicyTrial, Revoked, Session, SessionFacets, SessionPage, SessionPolicy, SessionQuery, SessionSelection, SignOut, SignedOutNote, Simulation, SyncStatus, Timeout, TravelHistory, Trusted, UsualPlace, WorkspaceRevoked } from "./bindings";

/** Every command: the arguments the shell takes (by camelCase key) and its answer. */
export type Commands = {
  app_info: { args: Record<string, never>; answer: AppInfo };
  remember_screen: { args: { screen: string }; answer: null };
  sign_in: { args: { server: string; email: string; password: string }; answer: AccountView };
  open_demo: { args: Record<string, never>; answer: null };
  my_sessions: { args: Record<string, never>; answer: Session[] };
  sign_out: { args: { deleteCache: boolean }; answer: SignOut };
  sync_status: { args: Record<string, never>; answer: SyncStatus };
  alerts: { args: { filter: AlertFilter }; answer: Alert[] };
  set_alert_status: { args: { id: number; status: AlertStatus }; answer: Alert };
  revoke_alert_session: { args: { id: number }; answer: Alert };
  usual_places: { args: { id: number }; answer: UsualPlace[] };
  trusted: { args: Record<string, never>; answer: Trusted };
  set_trusted: { args: { trusted: Trusted }; answer: Trusted };
  notify_settings: { args: Record<string, never>; answer: NotifySettings };
  set_notify_settings: { args: { settings: NotifySettings }; answer: NotifySettings };
  pause_notifications: { args: { pause: boolean }; answer: NotifySettings };
  launch_at_login: { args: Record<string, never>; answer: boolean | null };
  set_launch_at_login: { args: { enabled: boolean }; answer: boolean };
  overview: { args: { query: OverviewQuery }; answer: Overview };
  policy: { args: Record<string, never>; answer: SessionPolicy };
  update_policy: { args: { inactivityTimeout: Timeout; absoluteTimeout: Timeout; maxConcurrentSessions: number | null }; answer: SessionPolicy };
  revoke_workspace_sessions: { args: { password: string }; answer: WorkspaceRevoked };
  members: { args: Record<string, never>; answer: Member[] };
  member_sessions: { args: { memberId: string }; answer: Session[] };
  revoke_member_session: { args: { memberId: string; sessionId: string }; answer: null };
  revoke_member_sessions: { args: { memberId: string }; answer: Revoked };
  revoke_my_session: { args: { sessionId: string }; answer: SignedOutNote | null };
  revoke_my_other_sessions: { args: Record<string, never>; answer: Revoked };
  audit_events: { args: { query: AuditQuery; beforeSeq: number | null; limit: number }; answer: AuditEvent[] };
  export_audit: { args: { query: AuditQuery; format: ExportFormat }; answer: Exported };
  log_trust: { args: Record<string, never>; answer: LogTrust };
  export_event_proof: { args: { seq: number }; answer: string };
  export_log_evidence: { args: Record<string, never>; answer: string };
  resume_log: { args: { repin: boolean }; answer: LogTrust };
  sessions_page: { args: { query: SessionQuery; offset: number; limit: number }; answer: SessionPage };
  session_selection: { args: { query: SessionQuery }; answer: SessionSelection };
  revoke_sessions: { args: { sessionIds: string[] }; answer: BulkRevoked };
  parse_indicator: { args: { text: string }; answer: Indicator };
  network_of: { args: { ip: string }; answer: Indicator };
  pivot_summary: { args: { indicator: Indicator }; answer: PivotSummary };
  pivot_events: { args: { indicator: Indicator; offset: number; limit: number }; answer: AuditEvent[] };
  pivot_sessions: { args: { indicator: Indicator; offset: number; limit: number }; answer: Session[] };
  moment: { args: { at: string; limit: number }; answer: Moment };
  travel_history: { args: { memberId: string }; answer: TravelHistory };
  simulate_policy: { args: { trial: PolicyTrial; days: number }; answer: Simulation };
  session_facets: { args: Record<string, never>; answer: SessionFacets };
};

/** Every event the shell emits, with its payload. */
export type Events = {
  "sync-status": SyncStatus;
  "open-alert": number | null;
  "notify-settings": NotifySettings;
};
