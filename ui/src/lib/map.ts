// The overview's map and timeline, drawn without a tile server: the world's countries come
// from the bundled Natural Earth outline (world-atlas, 1:110m), projected with d3-geo.
import { geoNaturalEarth1, geoPath, type GeoProjection } from "d3-geo";
import { feature, mesh } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import world from "world-atlas/countries-110m.json";
import type { DayCount, Place } from "./bindings";

const topology = world as unknown as Topology<{ countries: GeometryCollection; land: GeometryCollection }>;

/** The world drawn into a `width` × `height` box: the land, the borders, and the projection for places. */
export interface WorldMap {
  land: string;
  borders: string;
  project: (longitude: number, latitude: number) => [number, number] | null;
}

/** A dot of a map of places: where, how many (sessions or sign-ins), and its words. */
export interface MapDot {
  latitude: number;
  longitude: number;
  count: number;
  label: string;
}

/** A trip drawn between two places ([latitude, longitude] each). */
export interface MapLine {
  from: [number, number];
  to: [number, number];
  impossible: boolean;
  label: string;
}

/** Draws the world to fit the box (computed once per size). */
export function worldMap(width: number, height: number): WorldMap {
  const land = feature(topology, topology.objects.land);
  const projection: GeoProjection = geoNaturalEarth1().fitSize([width, height], land);
  const path = geoPath(projection);
  const borders = mesh(topology, topology.objects.countries, (a, b) => a !== b);
  return {
    land: path(land) ?? "",
    borders: path(borders) ?? "",
    project: (longitude, latitude) => projection([longitude, latitude]),
  };
}

/**
 * A place's dot: its area grows with its sessions, between 3 and 18 px of radius, scaled to the
 * busiest place but never as if it had fewer than 25 (a workspace of a few sessions keeps small dots).
 */
export function dotRadius(sessions: number, busiest: number): number {
  if (busiest <= 0 || sessions <= 0) return 0;
  return 3 + 15 * Math.sqrt(Math.min(sessions, busiest) / Math.max(busiest, 25));
}

/** A place in words: "London, GB · 12 sessions". */
export function placeLabel(place: Place): string {
  const where = [place.city, place.country_code].filter((p) => p).join(", ") || "Unknown place";
  return `${where} · ${place.sessions} ${place.sessions === 1 ? "session" : "sessions"}`;
}

/** One bar of the sign-in timeline: sign-ins on top of failures, scaled to the busiest day. */
export interface Bar {
  x: number;
  width: number;
  signInHeight: number;
  failedHeight: number;
  day: DayCount;
}

/** The timeline's bars in a `width` × `height` box, with a gap of a fifth of a bar between days. */
export function timelineBars(days: DayCount[], width: number, height: number): Bar[] {
  if (days.length === 0) return [];
  const busiest = Math.max(1, ...days.map((d) => d.sign_ins + d.failed));
  const step = width / days.length;
  const barWidth = step * 0.8;
  return days.map((day, i) => ({
    x: i * step + (step - barWidth) / 2,
    width: barWidth,
    signInHeight: (day.sign_ins / busiest) * height,
    failedHeight: (day.failed / busiest) * height,
    day,
  }));
}
