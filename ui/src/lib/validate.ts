// Checks of the sign-in form before anything is sent. The engine checks again; these give
// the admin an answer next to the field.

export interface SignInForm {
  server: string;
  email: string;
  password: string;
}

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
