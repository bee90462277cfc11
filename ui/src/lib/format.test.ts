import { describe, expect, it } from "vitest";
import {
  absoluteTime,
  bulkRevokeLine,
  bulkRevokedLine,
  signOutNotice,
  networkOf,
  placeOf,
  reasonText,
  relativeTime,
  sentence,
  simulationLine,
  syncLine,
} from "./format";

const now = new Date("2026-04-08T12:00:00Z");

describe("relativeTime", () => {
  it("says just now for the last few seconds", () => {
    expect(relativeTime("2026-04-08T11:59:30Z", now)).toBe("just now");
  });
  it("picks the largest whole unit", () => {
    expect(relativeTime("2026-04-08T11:55:00Z", now)).toBe("5 minutes ago");
    expect(relativeTime("2026-04-08T09:00:00Z", now)).toBe("3 hours ago");
    expect(relativeTime("2026-04-05T12:00:00Z", now)).toBe("3 days ago");
    expect(relativeTime("2026-04-15T12:00:00Z", now)).toBe("next week");
  });
  it("shows a dash for a malformed time instead of NaN", () => {
    expect(relativeTime("yesterday-ish", now)).toBe("—");
  });
});

describe("absoluteTime", () => {
  it("formats in the given zone", () => {
    expect(absoluteTime("2026-04-08T12:00:00Z", "en-GB", "UTC")).toBe("8 Apr 2026, 12:00");
  });
  it("shows a dash for a malformed time", () => {
    expect(absoluteTime("", "en-GB", "UTC")).toBe("—");
  });
});

describe("networkOf", () => {
  it("names the system and its organisation when known", () => {
    expect(networkOf(13335, "Cloudflare, Inc.")).toBe("AS13335 Cloudflare, Inc.");
    expect(networkOf(64500, null)).toBe("AS64500");
    expect(networkOf(null, "Cloudflare, Inc.")).toBe("—");
  });
});

describe("placeOf", () => {
  it("joins what is known", () => {
    expect(
      placeOf({
        city: "London",
        region: "England",
        country: "United Kingdom",
        country_code: "GB",
        latitude: 51.5,
        longitude: -0.12,
      }),
    ).toBe("London, England, GB");
    expect(
      placeOf({
        city: null,
        region: null,
        country: "France",
        country_code: null,
        latitude: null,
        longitude: null,
      }),
    ).toBe("France");
  });
  it("says unknown when nothing is known", () => {
    expect(placeOf(null)).toBe("Unknown location");
  });
});

describe("sentence", () => {
  it("capitalises and ends a message", () => {
    expect(sentence("the email or password is incorrect")).toBe("The email or password is incorrect.");
  });
  it("leaves a finished sentence alone", () => {
    expect(sentence("Cannot reach the server!")).toBe("Cannot reach the server!");
    expect(sentence("  ")).toBe("");
  });
});

describe("syncLine", () => {
  const last = "2026-04-08T11:55:00Z";
  it("says live or idle with the last sync", () => {
    expect(syncLine({ state: "live", last_sync: last, alerts: 0 }, now)).toBe("Live · last synced 5 minutes ago");
    expect(syncLine({ state: "idle", last_sync: null, alerts: 0 }, now)).toBe("Idle · never synced");
  });
  it("counts the first sync's progress", () => {
    expect(syncLine({ state: "syncing", done: 1234, total: 10000, last_sync: null, alerts: 0 }, now)).toBe(
      "Syncing 1,234 of 10,000 (12 %)",
    );
    expect(syncLine({ state: "syncing", done: 0, total: 0, last_sync: null, alerts: 0 }, now)).toBe(
      "Syncing 0 of 0 (0 %)",
    );
  });
  it("says since when it is offline, and why it was signed out", () => {
    expect(
      syncLine({ state: "offline", since: "2026-04-08T09:00:00Z", reason: "x", last_sync: last, alerts: 0 }, now),
    ).toBe("Offline since 3 hours ago · last synced 5 minutes ago");
    expect(
      syncLine({ state: "signed_out", code: "session_expired", reason: "your session expired", last_sync: last, alerts: 0 }, now),
    ).toBe("Signed out: Your session expired.");
    expect(syncLine({ state: "polling", last_sync: last, alerts: 0 }, now)).toBe(
      "Polling (live updates paused) · last synced 5 minutes ago",
    );
  });
});

describe("reasonText", () => {
  it("names what is new", () => {
    expect(reasonText({ kind: "new_country", country: "AU" })).toBe("new country (AU)");
    expect(reasonText({ kind: "new_device", device: "Chrome on macOS" })).toBe("new device (Chrome on macOS)");
    expect(reasonText({ kind: "known_device", device_id: "dev_0123456789abcdef0123456789abcdef" })).toBe(
      "from a browser they signed in from before (dev_0123456789abcdef0123456789abcdef)",
    );
    expect(reasonText({ kind: "hosting_network", network: "AS14061 DigitalOcean, LLC" })).toBe(
      "a hosting provider's network (AS14061 DigitalOcean, LLC)",
    );
  });
  it("says how far and how fast for impossible travel", () => {
    expect(
      reasonText({ kind: "impossible_travel", from: "London, GB", to: "Sydney, AU", km: 16993.4, kmh: 33986.8 }),
    ).toBe("impossible travel: London, GB → Sydney, AU, 16,993 km at 33,987 km/h");
  });
  it("counts the failures of a password attack", () => {
    expect(reasonText({ kind: "password_attack_from_ip", ip: "192.0.2.1", failures: 20, members: 7 })).toBe(
      "password attack from 192.0.2.1: 20 failed sign-ins on 7 accounts in 10 minutes",
    );
  });
});

describe("signOutNotice", () => {
  it("tells after a sign-out only that the session is still live at the server", () => {
    expect(signOutNotice({ at_server: "ended", message: "Signed out." })).toBe(null);
    expect(signOutNotice({ at_server: "already_ended", message: "Signed out; …" })).toBe(null);
    expect(signOutNotice({ at_server: "still_live", message: "still live there" })).toBe("still live there");
  });
});

describe("revoking a chosen set", () => {
  it("names how many sessions of how many members go", () => {
    expect(bulkRevokeLine(12, 3)).toBe("Revoke 12 sessions of 3 members");
    expect(bulkRevokeLine(1, 1)).toBe("Revoke 1 session of 1 member");
    expect(bulkRevokeLine(1000, 250)).toBe("Revoke 1,000 sessions of 250 members");
  });
  it("says what the server did, and what had ended already", () => {
    expect(bulkRevokedLine({ revoked: 3, members: 2, already_ended: [] })).toBe("3 sessions of 2 members revoked.");
    expect(bulkRevokedLine({ revoked: 1, members: 1, already_ended: ["a", "b"] })).toBe(
      "1 session of 1 member revoked. 2 others had already ended.",
    );
  });
});

describe("a policy's simulation", () => {
  const base = {
    policy: { inactivity_timeout: "8h", absolute_timeout: "24h", max_concurrent_sessions: 3 },
    from: "2026-03-09T12:00:00Z",
    to: "2026-04-08T12:00:00Z",
    most_affected: [],
  } as const;
  it("says how many sessions would have ended earlier, and for how many members", () => {
    expect(
      simulationLine({ ...base, most_affected: [], sessions: 340, inactivity: 7, absolute: 4, concurrency: 1, members: 5 }),
    ).toBe("12 of 340 sessions would have ended earlier, for 5 members.");
    expect(
      simulationLine({ ...base, most_affected: [], sessions: 1, inactivity: 0, absolute: 0, concurrency: 0, members: 0 }),
    ).toBe("None of the 1 session that began would have ended earlier.");
    expect(
      simulationLine({ ...base, most_affected: [], sessions: 0, inactivity: 0, absolute: 0, concurrency: 0, members: 0 }),
    ).toBe("No session began in that time.");
  });
});
