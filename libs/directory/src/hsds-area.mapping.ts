// HSDS service areas → ZIP-code and radius areas.

import type { GeoPoint, ServiceArea } from './directory.model';
import { normalizePostalCode } from './geo';
import { type HsdsReader, isObject, type Json } from './hsds.reader';

/** The raw HSDS location of an id, for a radius area centred on it. */
export type LocationLookup = (id: string) => Json | undefined;

export function mapServiceArea(
  r: HsdsReader,
  locationRaw: LocationLookup,

  raw: Json,
  path: string,
  record: string,
  locationId: string | undefined,
): ServiceArea | undefined {
  const type = r.str(raw, 'extent_type', path, record)?.toLowerCase();
  const extent = r.str(raw, 'extent', path, record);
  const description = r.str(raw, 'description', path, record);
  const name = r.str(raw, 'name', path, record);
  const withDescription = <T extends ServiceArea>(area: T): T =>
    description ? { ...area, description } : area;

  if (type === 'geojson') {
    if (!extent) {
      r.error(`${path}.extent`, record, 'is required when extent_type is geojson');
      return undefined;
    }
    return mapRadiusArea(
      r,
      locationRaw,
      extent,
      `${path}.extent`,
      record,
      locationId,
      withDescription,
    );
  }
  if (type === undefined || type === 'text') {
    const text = extent ?? name;
    const tokens = text?.split(/[\s,;]+/).filter(Boolean) ?? [];
    const zips = tokens.map((t) => normalizePostalCode(t));
    if (tokens.length > 0 && zips.every((z) => z !== undefined)) {
      return withDescription({
        kind: 'postal-codes',
        postalCodes: [...new Set(zips as string[])],
      });
    }
    r.warn(
      path,
      record,
      `free-text service area ${JSON.stringify(text ?? '')} is not a list of ZIP codes: skipped`,
    );
    return undefined;
  }
  r.warn(
    `${path}.extent_type`,
    record,
    `"${type}" extents are not supported (use a ZIP list or a geojson point with radius_km): skipped`,
  );
  return undefined;
}

function mapRadiusArea(
  r: HsdsReader,
  locationRaw: LocationLookup,

  extent: string,
  path: string,
  record: string,
  locationId: string | undefined,
  withDescription: <T extends ServiceArea>(area: T) => T,
): ServiceArea | undefined {
  let geo: unknown;
  try {
    geo = JSON.parse(extent);
  } catch {
    r.error(path, record, 'is not valid GeoJSON (JSON parse failed)');
    return undefined;
  }
  if (!isObject(geo) || geo.type !== 'Feature') {
    r.warn(
      path,
      record,
      'GeoJSON service areas other than a Point Feature with properties.radius_km are not supported: skipped',
    );
    return undefined;
  }
  const props = isObject(geo.properties) ? geo.properties : {};
  const radiusKm = props.radius_km;
  if (typeof radiusKm !== 'number' || !Number.isFinite(radiusKm) || radiusKm <= 0) {
    if (geo.geometry && isObject(geo.geometry) && geo.geometry.type !== 'Point') {
      r.warn(path, record, `GeoJSON ${String(geo.geometry.type)} areas are not supported: skipped`);
    } else {
      r.error(
        `${path}.properties.radius_km`,
        record,
        `must be a positive number of km, got ${JSON.stringify(radiusKm)}`,
      );
    }
    return undefined;
  }
  let center: GeoPoint | undefined;
  if (isObject(geo.geometry)) {
    const coords = geo.geometry.coordinates;
    if (
      geo.geometry.type !== 'Point' ||
      !Array.isArray(coords) ||
      coords.length < 2 ||
      typeof coords[0] !== 'number' ||
      typeof coords[1] !== 'number' ||
      Math.abs(coords[1]) > 90 ||
      Math.abs(coords[0]) > 180
    ) {
      r.error(`${path}.geometry`, record, 'must be a Point with [longitude, latitude] coordinates');
      return undefined;
    }
    center = { lat: coords[1], lon: coords[0] };
  } else if (locationId) {
    const loc = locationRaw(locationId);
    const lat = loc?.latitude;
    const lon = loc?.longitude;
    if (typeof lat === 'number' && typeof lon === 'number') center = { lat, lon };
    else {
      r.error(
        path,
        record,
        `radius area around location "${locationId}", which has no coordinates`,
      );
      return undefined;
    }
  } else {
    r.error(
      `${path}.geometry`,
      record,
      'a radius area needs a Point geometry or a service_at_location with coordinates',
    );
    return undefined;
  }
  return withDescription(
    locationId
      ? { kind: 'radius', center, radiusKm, locationId }
      : { kind: 'radius', center, radiusKm },
  );
}
