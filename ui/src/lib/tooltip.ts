// The tooltip of the Overview's chart and map: one box of the page (not the system's tooltip
// of an SVG <title>, which WebKitGTK can leave on screen, empty, after the chart is gone),
// shown while the pointer is over a part that has words and hidden as soon as it is not.

/** Where the box stands against the pointer, so that it stays inside the chart. */
export type TipAlign = "start" | "middle" | "end";

/** A tooltip to draw: its words and the pointer's place, in pixels from the box's top left. */
export interface Tip {
  text: string;
  x: number;
  y: number;
  align: TipAlign;
}

/**
 * The tooltip for a pointer at (`x`, `y`) inside a `width` × `height` box, over a part whose
 * words are `text`. Null — no box at all — when there are no words or the pointer is outside the
 * box (it left, or the box is gone). Near an edge the box grows inwards.
 */
export function tipAt(
  text: string | null | undefined,
  x: number,
  y: number,
  width: number,
  height: number,
): Tip | null {
  const words = text?.trim() ?? "";
  if (words === "") return null;
  if (!(width > 0 && height > 0)) return null;
  if (!(x >= 0 && x <= width && y >= 0 && y <= height)) return null;
  const align: TipAlign = x < width / 4 ? "start" : x > (width * 3) / 4 ? "end" : "middle";
  return { text: words, x, y, align };
}

/** The words of the part of a chart under the pointer: its nearest `data-tip`. */
export function tipTextOf(target: EventTarget | null): string | null {
  const el = target as { closest?: (css: string) => Element | null } | null;
  return el?.closest?.("[data-tip]")?.getAttribute("data-tip") ?? null;
}
