// Formatting for the window: times, places, messages, the sync's state, reasons and events in words.
import type { BulkRevoked, Location, Reason, Simulation, SyncStatus } from "./bindings";

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

// Intl formatters are costly to build (a list of a hundred rows would build hundreds per
// render); one per locale and option set is kept.
const relativeFormats = new Map<string, Intl.RelativeTimeFormat>();
const absoluteFormats = new Map<string, Intl.DateTimeFormat>();

function relativeFormat(locale: string): Intl.RelativeTimeFormat {
  let f = relativeFormats.get(locale);
  if (!f) {
    f = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
    relativeFormats.set(locale, f);
  }
  return f;
}

function absoluteFormat(locale?: string, timeZone?: string): Intl.DateTimeFormat {
  const key = `${locale ?? ""}|${timeZone ?? ""}`;
  let f = absoluteFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone });
    absoluteFormats.set(key, f);
  }
  return f;
}

/** "5 minutes ago", "in 3 days", "just now": relative to `now`. */
export function relativeTime(iso: string, now: Date, locale = "en"): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "—";
  const seconds = Math.round((at - now.getTime()) / 1000);
  if (Math.abs(seconds) < 45) return "just now";
  const rtf = relativeFormat(locale);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) {
      return rtf.format(Math.trunc(seconds / size), unit);
    }
  }
  return rtf.format(Math.trunc(seconds / 60), "minute");
}

/** The absolute local time, e.g. "8 Apr 2026, 14:00", for tooltips. */
export function absoluteTime(iso: string, locale?: string, timeZone?: string): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "—";
  return absoluteFormat(locale, timeZone).format(at);
}

/** "London, England, GB"; "Unknown location" when nothing is known. */
export function placeOf(location: Location | null): string {
  if (!location) return "Unknown location";
  const parts = [location.city, location.region, location.country_code ?? location.country].filter(
    (p): p is string => typeof p === "string" && p.length > 0,
  );
  return parts.length > 0 ? parts.join(", ") : "Unknown location";
}

/** "AS13335 Cloudflare, Inc.", or "—" when the server did not know the network. */
export function networkOf(asn: number | null, org: string | null): string {
  return asn === null ? "—" : `AS${asn}${org ? ` ${org}` : ""}`;
}

/** An engine or server message ("the email or password is incorrect") as a sentence to show. */
export function sentence(message: string): string {
  const text = message.trim();
  if (text === "") return text;
  const capitalised = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?…]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

/** The status bar's words for where the sync stands. */
export function syncLine(status: SyncStatus, now: Date): string {
  const synced = status.last_sync ? `last synced ${relativeTime(status.last_sync, now)}` : "never synced";
  switch (status.state) {
    case "idle":
      return `Idle · ${synced}`;
    case "syncing": {
      const total = Math.max(status.total, 1);
      const percent = Math.min(100, Math.floor((status.done * 100) / total));
      return `Syncing ${status.done.toLocaleString("en")} of ${status.total.toLocaleString("en")} (${percent} %)`;
    }
    case "live":
      return `Live · ${synced}`;
    case "polling":
      return `Polling (live updates paused) · ${synced}`;
    case "offline":
      return `Offline since ${relativeTime(status.since, now)} · ${synced}`;
    case "signed_out":
      return `Signed out: ${sentence(status.reason)}`;
  }
}

/** A detector's reason as a short phrase (the same words as the notifications). */
export function reasonText(r: Reason): string {
  switch (r.kind) {
    case "new_country":
      return `new country (${r.country})`;
    case "new_city":
      return `new city (${r.city})`;
    case "new_network":
      return `new network (${r.network})`;
    case "new_device":
      return `new device (${r.device})`;
    case "hosting_network":
      return `a hosting provider's network (${r.network})`;
    case "known_device":
      return `from a browser they signed in from before (${r.device_id})`;
    case "impossible_travel":
      return `impossible travel: ${r.from} → ${r.to}, ${Math.round(r.km).toLocaleString("en")} km at ${Math.round(r.kmh).toLocaleString("en")} km/h`;
    case "password_attack_on_member":
      return `password attack: ${r.failures} failed sign-ins in 10 minutes`;
    case "password_attack_from_ip":
      return `password attack from ${r.ip}: ${r.failures} failed sign-ins on ${r.members} accounts in 10 minutes`;
  }
}

/**
 * What the sign-in screen says after a sign-out: nothing when the server ended the session,
 * and that it is still live there when the server could not be reached.
 */
export function signOutNotice(outcome: { at_server: string; message: string }): string | null {
  return outcome.at_server === "still_live" ? outcome.message : null;
}


/** "1 session" or "3 sessions": a count and its noun. */
export function counted(n: number, noun: string): string {
  return `${n.toLocaleString("en")} ${noun}${n === 1 ? "" : "s"}`;
}

/** What revoking a chosen set does, as its button says: "Revoke 3 sessions of 2 members". */
export function bulkRevokeLine(sessions: number, members: number): string {
  return `Revoke ${counted(sessions, "session")} of ${counted(members, "member")}`;
}

/** What the server did with a chosen set: how many went, and how many had ended already. */
export function bulkRevokedLine(done: BulkRevoked): string {
  const line = `${counted(done.revoked, "session")} of ${counted(done.members, "member")} revoked.`;
  const ended = done.already_ended.length;
  if (ended === 0) return line;
  return `${line} ${counted(ended, "other")} had already ended.`;
}

/** A simulation in a sentence: "12 of 340 sessions would have ended earlier, for 5 members." */
export function simulationLine(s: Simulation): string {
  const ended = s.inactivity + s.absolute + s.concurrency;
  if (s.sessions === 0) return "No session began in that time.";
  if (ended === 0) return `None of the ${counted(s.sessions, "session")} that began would have ended earlier.`;
  return `${ended.toLocaleString("en")} of ${counted(s.sessions, "session")} would have ended earlier, for ${counted(s.members, "member")}.`;
}
