import { describe, expect, it } from "vitest";
import { checkServer, validateSignIn, maxSessions, maxSessionsChoice } from "./validate";

describe("checkServer", () => {
  it("accepts https anywhere and http only to this computer", () => {
    expect(checkServer("https://setget.example")).toBeNull();
    expect(checkServer("http://127.0.0.1:8080")).toBeNull();
    expect(checkServer("http://localhost:3000")).toBeNull();
    expect(checkServer("http://[::1]:9000")).toBeNull();
  });
  it("refuses plain http to another host and names the https address", () => {
    expect(checkServer("http://setget.example")).toMatch(/https:\/\/setget\.example/);
    expect(checkServer("http://10.0.0.5")).toMatch(/unencrypted/);
  });
  it("refuses what is not a full https address", () => {
    expect(checkServer("")).toMatch(/Enter/);
    expect(checkServer("setget.example")).toMatch(/full address/);
    expect(checkServer("ftp://setget.example")).toMatch(/https/);
    expect(checkServer("https://u:p@setget.example")).toMatch(/user name/);
  });
});

describe("validateSignIn", () => {
  it("passes a complete form", () => {
    expect(
      validateSignIn({ server: "https://s.example", email: "a@b.co", password: "x" }),
    ).toEqual({});
  });
  it("names every bad field", () => {
    const errors = validateSignIn({ server: "nope", email: "not-an-email", password: "" });
    expect(Object.keys(errors).sort()).toEqual(["email", "password", "server"]);
  });
  it("asks for a missing email rather than calling it malformed", () => {
    expect(validateSignIn({ server: "https://s.example", email: "  ", password: "x" }).email).toMatch(
      /Enter/,
    );
  });
});

describe("session policy choices", () => {
  it("reads the maximum of concurrent sessions", () => {
    expect(maxSessions("5", "")).toEqual({ value: 5 });
    expect(maxSessions("10", "junk")).toEqual({ value: 10 });
    expect(maxSessions("unlimited", "")).toEqual({ value: null });
    expect(maxSessions("custom", " 25 ")).toEqual({ value: 25 });
  });
  it("refuses a custom maximum that is not a whole number from 1 to 1000", () => {
    for (const bad of ["", "0", "1001", "2.5", "-3", "ten"]) {
      expect(maxSessions("custom", bad)).toHaveProperty("error");
    }
  });
  it("shows a policy's maximum as the choice that says it", () => {
    expect(maxSessionsChoice(null)).toEqual({ choice: "unlimited", custom: "" });
    expect(maxSessionsChoice(10)).toEqual({ choice: "10", custom: "" });
    expect(maxSessionsChoice(42)).toEqual({ choice: "custom", custom: "42" });
  });
});
