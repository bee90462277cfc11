import { describe, expect, it } from "vitest";
import { ABSOLUTE_TIMEOUTS, CONCURRENT_SESSIONS, EVENT_KINDS, INACTIVITY_TIMEOUTS } from "./bindings";
import { AUDIT_EVENTS, END_REASONS, endReason, eventName, eventReason, reasonName } from "./vocab";

describe("audit words", () => {
  it("names known events and leaves others as they are", () => {
    expect(eventName("auth.sign_in_failed")).toBe("Failed sign-in");
    expect(eventName("session.expired")).toBe("Session expired");
    expect(eventName("something.new")).toBe("something.new");
  });

  it("says an audit reason in words, and an unknown one as its spaced code", () => {
    expect(reasonName("wrong_password")).toBe("Wrong password");
    expect(reasonName("password_confirmation_failed")).toBe(
      "Wrong password to confirm revoking every session",
    );
    expect(reasonName("admin")).toBe("By an admin");
    expect(reasonName("inactivity")).toBe("Inactivity timeout");
    expect(reasonName("token_reuse")).toBe("Rotated token reused");
    expect(reasonName("brand_new_reason")).toBe("brand new reason");
  });

  it("counts the refusals a locked account's event stands for", () => {
    expect(eventReason({ reason: "locked", details: { count: 120 } })).toBe(
      "Account locked — 120 attempts refused",
    );
    expect(eventReason({ reason: "locked", details: { count: 1 } })).toBe(
      "Account locked — 1 attempt refused",
    );
    // Events from before the refusals were counted, and odd details, read as the reason alone.
    expect(eventReason({ reason: "locked", details: null })).toBe("Account locked");
    expect(eventReason({ reason: "locked", details: { count: "many" } })).toBe("Account locked");
    expect(eventReason({ reason: "wrong_password", details: { count: 3 } })).toBe("Wrong password");
    expect(eventReason({ reason: null, details: null })).toBe("");
  });

  it("lists every event kind the server records, the member-wide revocation included", () => {
    expect(AUDIT_EVENTS.map(([kind]) => kind)).toEqual([...EVENT_KINDS]);
    expect(AUDIT_EVENTS).toContainEqual(["user.sessions_terminated", "All of a member's sessions revoked"]);
    expect(new Set(AUDIT_EVENTS.map(([, words]) => words)).size).toBe(AUDIT_EVENTS.length);
  });
});

describe("why sessions end", () => {
  it("says each end reason in words, and nothing for an active session", () => {
    expect(endReason({ status: "expired", end_reason: "inactivity" })).toBe("Inactivity timeout");
    expect(endReason({ status: "revoked", end_reason: "concurrent_limit" })).toBe(
      "Over the concurrent-session limit (oldest revoked)",
    );
    expect(endReason({ status: "revoked", end_reason: "ip_change" })).toBe("IP address changed (IP binding)");
    expect(endReason({ status: "signed_out", end_reason: null })).toBe("Ended");
    expect(endReason({ status: "active", end_reason: null })).toBe("");
  });

  it("offers every known reason once as a filter", () => {
    expect(END_REASONS.map(([r]) => r)).toEqual([
      "sign_out",
      "revoked_self",
      "revoked_admin",
      "concurrent_limit",
      "workspace_revoke",
      "inactivity",
      "absolute",
      "ip_change",
      "user_agent_change",
      "token_reuse",
    ]);
    expect(new Set(END_REASONS.map(([, w]) => w)).size).toBe(END_REASONS.length);
  });
});

describe("policy choices", () => {
  it("are the published ones, from the generated bindings", () => {
    expect([...INACTIVITY_TIMEOUTS]).toEqual(["30m", "1h", "8h", "24h", "7d", "30d"]);
    expect([...ABSOLUTE_TIMEOUTS]).toEqual(["24h", "7d", "30d", "90d"]);
    expect(CONCURRENT_SESSIONS).toEqual({ min: 1, max: 1000 });
  });
});
