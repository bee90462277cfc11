import { describe, expect, it } from "vitest";
import type { LogTrust } from "./bindings";
import { sentence, trustLine } from "./logTrust";

const base: LogTrust = {
  key: "setget+12345678+AQ",
  fingerprint: "3f1c:9a0e:0000:0000:0000:0000:0000:0001",
  origin: "setget/acme",
  pinned_at: "2026-12-01T00:00:00Z",
  checkpoint: "setget/acme\n3\nAAAA\n",
  verified_size: 48211,
  verified_at: "2026-12-06T10:00:00Z",
  witnesses: 2,
  alarm: null,
};

describe("trustLine", () => {
  it("says how far the log is verified, by which key, witnessed by how many", () => {
    expect(trustLine(base)).toBe(
      "Verified up to #48,211 · checkpoint signed by 3f1c:9a0e:0000:0000:0000:0000:0000:0001 · witnessed by 2 admins' apps",
    );
    expect(trustLine({ ...base, witnesses: 1 })).toContain("witnessed by 1 admin's app");
  });

  it("says an alarm in the notification's words, and a log not verified yet", () => {
    const alarm = {
      kind: "rolled_back" as const,
      detail: "the log now has 3 events",
      detected_at: "2026-12-06T10:00:00Z",
      evidence: {
        pinned_key: null, trusted_checkpoint: null, received_checkpoint: null, received_key: null,
        cached_root: null, cached_size: null, proof: null, witness: null,
      },
    };
    expect(trustLine({ ...base, alarm })).toBe("Audit history was rolled back");
    expect(trustLine({ ...base, key: null, fingerprint: null })).toMatch(/^Not verified yet/);
  });
});

describe("sentence", () => {
  it("capitalises the engine's detail", () => {
    expect(sentence("the log now has 3 events")).toBe("The log now has 3 events");
    expect(sentence("")).toBe("");
  });
});
