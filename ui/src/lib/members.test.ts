import { describe, expect, it } from "vitest";
import { memberByEmail, membersShown } from "./members";

describe("membersShown", () => {
  const m = (display_name: string, email: string, active_sessions: number, last_active_at: string | null) => ({
    display_name,
    email,
    active_sessions,
    last_active_at,
  });
  const all = [
    m("bob", "bob@acme.test", 1, "2026-04-08T10:00:00Z"),
    m("Ada", "ada@acme.test", 3, "2026-04-08T09:00:00Z"),
    m("cy", "cy@other.test", 0, null),
  ];
  const names = (list: { display_name: string }[]) => list.map((x) => x.display_name);
  it("sorts by name whatever the case, by sessions, by last activity", () => {
    expect(names(membersShown(all, "", "name"))).toEqual(["Ada", "bob", "cy"]);
    expect(names(membersShown(all, "", "sessions"))).toEqual(["Ada", "bob", "cy"]);
    expect(names(membersShown(all, "", "last_active"))).toEqual(["bob", "Ada", "cy"]);
  });
  it("searches names and emails in any case", () => {
    expect(names(membersShown(all, "ACME", "name"))).toEqual(["Ada", "bob"]);
    expect(names(membersShown(all, " cy ", "name"))).toEqual(["cy"]);
    expect(membersShown(all, "nobody", "name")).toEqual([]);
  });
  it("leaves the list it was given as it was", () => {
    membersShown(all, "", "sessions");
    expect(names(all)).toEqual(["bob", "Ada", "cy"]);
  });
});

describe("memberByEmail", () => {
  const members = [{ email: "ada@acme.test" }, { email: "Bob@Acme.test" }];
  it("finds a whole email in any case, and nothing for a part", () => {
    expect(memberByEmail(members, " BOB@acme.test ")).toBe(members[1]);
    expect(memberByEmail(members, "ada@acme.test")).toBe(members[0]);
    expect(memberByEmail(members, "ada@")).toBeNull();
    expect(memberByEmail(members, "")).toBeNull();
  });
});
