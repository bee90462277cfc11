// What the admin types into a field, read into values.

/** Splits what the admin typed into a list: commas, spaces or new lines separate entries. */
export function listOf(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}
