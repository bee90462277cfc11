import type { AlarmKind, LogTrust } from "./bindings";

/** The alarms' headlines, as the notifications say them. */
export const ALARM_TITLES: Record<AlarmKind, string> = {
  rewritten: "Audit history was rewritten",
  rolled_back: "Audit history was rolled back",
  unknown_key: "Audit history is signed with an unknown key",
  forked: "Audit history differs from what another admin's app saw",
};

/** One line on what the audit log's verification stands at. */
export function trustLine(trust: LogTrust): string {
  if (trust.alarm) {
    return ALARM_TITLES[trust.alarm.kind];
  }
  if (!trust.fingerprint) {
    return "Not verified yet: the audit log is verified at the next sync";
  }
  const n = trust.witnesses;
  return (
    `Verified up to #${trust.verified_size.toLocaleString("en")} · checkpoint signed by ` +
    `${trust.fingerprint} · witnessed by ${n} ${n === 1 ? "admin's app" : "admins' apps"}`
  );
}

/** `detail` as a sentence: capitalised, without the engine's lowercase start. */
export function sentence(detail: string): string {
  return detail.charAt(0).toUpperCase() + detail.slice(1);
}
