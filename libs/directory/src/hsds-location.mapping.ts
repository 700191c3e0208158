// HSDS locations → Location: coordinates and the first physical address.

import type { GeoPoint, Location, PostalAddress } from './directory.model';
import { normalizePostalCode } from './geo';
import type { HsdsReader, Json } from './hsds.reader';

export function mapLocation(
  r: HsdsReader,
  raw: Json,
  path: string,
  id: string,
  organizationId: string,
): Location | undefined {
  const record = `location "${id}"`;
  const type = r.str(raw, 'location_type', path, record);
  if (type && !['physical', 'postal', 'virtual'].includes(type)) {
    r.error(`${path}.location_type`, record, `must be physical, postal or virtual, got "${type}"`);
  }
  const coordinates = readCoordinates(r, raw, path, record);
  const addresses = r.objects(raw, 'addresses', path, record);
  const chosen = addresses.find(([a]) => a.address_type === 'physical') ?? addresses[0];
  let address: PostalAddress | undefined;
  if (chosen) address = mapAddress(r, chosen[0], chosen[1], record);
  else if (type !== 'virtual') r.warn(`${path}.addresses`, record, 'no address');
  return {
    id,
    organizationId,
    name: r.str(raw, 'name', path, record) ?? id,
    address,
    coordinates,
  };
}

function readCoordinates(
  r: HsdsReader,
  raw: Json,
  path: string,
  record: string,
): GeoPoint | undefined {
  const lat = r.num(raw, 'latitude', path, record);
  const lon = r.num(raw, 'longitude', path, record);
  if (lat === undefined && lon === undefined) return undefined;
  if (lat === undefined || lon === undefined) {
    r.error(
      `${path}.${lat === undefined ? 'latitude' : 'longitude'}`,
      record,
      'latitude and longitude must be given together',
    );
    return undefined;
  }
  if (lat < -90 || lat > 90) {
    r.error(`${path}.latitude`, record, `must be between -90 and 90, got ${lat}`);
    return undefined;
  }
  if (lon < -180 || lon > 180) {
    r.error(`${path}.longitude`, record, `must be between -180 and 180, got ${lon}`);
    return undefined;
  }
  return { lat, lon };
}

function mapAddress(
  r: HsdsReader,
  raw: Json,
  path: string,
  record: string,
): PostalAddress | undefined {
  const line1 = r.str(raw, 'address_1', path, record, true);
  const line2 = r.str(raw, 'address_2', path, record);
  const city = r.str(raw, 'city', path, record, true);
  const state = r.str(raw, 'state_province', path, record, true);
  const postalCode = r.str(raw, 'postal_code', path, record, true);
  const country = r.str(raw, 'country', path, record, true);
  if (postalCode && country === 'US' && !normalizePostalCode(postalCode)) {
    r.error(`${path}.postal_code`, record, `"${postalCode}" is not a US ZIP code`);
  }
  if (!line1 || !city || !state || !postalCode || !country) return undefined;
  return { line: line2 ? [line1, line2] : [line1], city, state, postalCode, country };
}
