import type { GeoPoint } from './directory.model';

/** Mean Earth radius (IUGG), km. */
const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;

/** Great-circle distance between two points, in km (haversine formula). */
export function haversineKm(a: GeoPoint, b: GeoPoint): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const sinLat = Math.sin(dLat / 2);
  const sinLon = Math.sin(dLon / 2);
  const h = sinLat * sinLat + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * sinLon * sinLon;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function isValidGeoPoint(p: { lat: unknown; lon: unknown }): p is GeoPoint {
  return (
    typeof p.lat === 'number' &&
    typeof p.lon === 'number' &&
    Number.isFinite(p.lat) &&
    Number.isFinite(p.lon) &&
    p.lat >= -90 &&
    p.lat <= 90 &&
    p.lon >= -180 &&
    p.lon <= 180
  );
}

const ZIP = /^(\d{5})(?:-?\d{4})?$/;

/** The 5-digit US ZIP code of `60623`, `60623-1234` or `606231234`; undefined otherwise. */
export function normalizePostalCode(value: string | undefined | null): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = ZIP.exec(value.trim());
  return m ? m[1] : undefined;
}
