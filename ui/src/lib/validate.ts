// Checks of the sign-in form before anything is sent. The engine checks again; these give
// the admin an answer next to the field.

export interface SignInForm {
  server: string;
  email: string;
  password: string;
}

import { CONCURRENT_SESSIONS } from "./bindings";

export type FieldErrors = Partial<Record<keyof SignInForm, string>>;

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** Problems with the server address, or null when it is acceptable. */
export function checkServer(input: string): string | null {
  const value = input.trim();
  if (value === "") return "Enter the server's address.";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "Enter a full address, e.g. https://setget.example.";
  }
  if (url.username || url.password) return "The address must not contain a user name or password.";
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:") {
    return LOOPBACK.test(url.hostname)
      ? null
      : `Plain http:// would send your session unencrypted; use https://${url.host}.`;
  }
  return "The address must start with https://.";
}

/** Problems with each field; an empty object means the form can be sent. */
export function validateSignIn(form: SignInForm): FieldErrors {
  const errors: FieldErrors = {};
  const server = checkServer(form.server);
  if (server) errors.server = server;
  const email = form.email.trim();
  if (email === "") errors.email = "Enter the email address you sign in with.";
  else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.email = "That is not an email address.";
  if (form.password === "") errors.password = "Enter your password.";
  return errors;
}

/** How the admin chose the maximum of concurrent sessions. */
export type MaxSessionsChoice = "5" | "10" | "unlimited" | "custom";

/**
 * The maximum of concurrent sessions the form says: a number, null for unlimited, or the
 * problem with a custom number (a whole number within the policy's limits, 1 to 1000).
 */
export function maxSessions(
  choice: MaxSessionsChoice,
  custom: string,
): { value: number | null } | { error: string } {
  switch (choice) {
    case "5":
      return { value: 5 };
    case "10":
      return { value: 10 };
    case "unlimited":
      return { value: null };
    case "custom": {
      const { min, max } = CONCURRENT_SESSIONS;
      const text = custom.trim();
      if (!/^\d+$/.test(text)) return { error: `Enter a whole number of sessions, from ${min} to ${max}.` };
      const n = Number(text);
      if (n < min || n > max) return { error: `Enter a number of sessions from ${min} to ${max}.` };
      return { value: n };
    }
  }
}

/** The form's choice for a policy's maximum (the inverse of `maxSessions`). */
export function maxSessionsChoice(max: number | null): { choice: MaxSessionsChoice; custom: string } {
  if (max === null) return { choice: "unlimited", custom: "" };
  if (max === 5 || max === 10) return { choice: String(max) as MaxSessionsChoice, custom: "" };
  return { choice: "custom", custom: String(max) };
}
