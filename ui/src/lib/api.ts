// Typed wrappers of the app's commands. The types come from the Rust definitions
// (bindings.ts); errors arrive as CoreError and are rethrown as AppError.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { AccountView, AppInfo, CoreError, Session, SyncStatus } from "./bindings";

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
  mySessions: () => call<Session[]>("my_sessions"),
  signOut: () => call<null>("sign_out"),
  syncStatus: () => call<SyncStatus>("sync_status"),
  /** Calls `onStatus` with every change of the sync's state; returns the unsubscribe. */
  onSyncStatus: (onStatus: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    listen<SyncStatus>("sync-status", (e) => onStatus(e.payload)),
};
