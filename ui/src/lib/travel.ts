// A member's sign-ins in space: the places of a map, and the trips between them in words.
import type { SignInPoint, TravelHistory, Trip } from "./bindings";
import { placeOf } from "./format";
import type { MapDot, MapLine } from "./map";

/** The located sign-ins grouped by place (about 10 km), each a dot counting its sign-ins. */
export function travelDots(history: TravelHistory): MapDot[] {
  const byPlace = new Map<string, { lat: number; lon: number; n: number; label: string }>();
  for (const p of history.sign_ins) {
    const lat = p.location?.latitude;
    const lon = p.location?.longitude;
    if (lat == null || lon == null) continue;
    const key = `${lat.toFixed(1)},${lon.toFixed(1)}`;
    const entry = byPlace.get(key) ?? { lat, lon, n: 0, label: placeOf(p.location) };
    entry.n += 1;
    byPlace.set(key, entry);
  }
  return [...byPlace.values()].map((e) => ({
    latitude: e.lat,
    longitude: e.lon,
    count: e.n,
    label: `${e.label} · ${e.n} ${e.n === 1 ? "sign-in" : "sign-ins"}`,
  }));
}

/** A duration in hours, in words: "40 min", "3.5 h", "2 days". */
export function span(hours: number): string {
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  if (hours < 48) return `${Number(hours.toFixed(1))} h`;
  return `${Math.round(hours / 24)} days`;
}

/** A trip in words: "London, GB → Paris, FR: 338 km in 40 min (507 km/h)". */
export function tripLabel(trip: Trip, from: SignInPoint | undefined, to: SignInPoint | undefined): string {
  const speed = trip.kmh === null ? "at the same instant" : `${Math.round(trip.kmh).toLocaleString("en")} km/h`;
  return (
    `${placeOf(from?.location ?? null)} → ${placeOf(to?.location ?? null)}: ` +
    `${Math.round(trip.km).toLocaleString("en")} km in ${span(trip.hours)} (${speed})` +
    (trip.impossible ? " — impossible travel" : "")
  );
}

/** The trips as lines of a map. */
export function travelLines(history: TravelHistory): MapLine[] {
  const bySeq = new Map(history.sign_ins.map((p) => [p.seq, p]));
  const lines: MapLine[] = [];
  for (const t of history.trips) {
    const a = bySeq.get(t.from_seq)?.location;
    const b = bySeq.get(t.to_seq)?.location;
    if (a?.latitude == null || a.longitude == null || b?.latitude == null || b.longitude == null) continue;
    lines.push({
      from: [a.latitude, a.longitude],
      to: [b.latitude, b.longitude],
      impossible: t.impossible,
      label: tripLabel(t, bySeq.get(t.from_seq), bySeq.get(t.to_seq)),
    });
  }
  return lines;
}
