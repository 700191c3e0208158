/** What unmet need keeps of a directory Service record: no names, no contacts. */
export interface DirectoryServiceFacts {
  serviceId: string;
  organizationId: string;
  active: boolean;
  categories: string[];
  postalCodes: string[];
  /** Areas that are not ZIP lists (a radius): counted, not placed. */
  otherAreas: number;
  capacityStatus: string | null;
  available: number | null;
  maximum: number | null;
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
const count = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : null;

/** null when the record is not a Service (an Organization, a Location). */
export function directoryServiceFactsOf(
  organizationId: string,
  serviceId: string | undefined,
  record: Record<string, unknown>,
): DirectoryServiceFacts | null {
  const id = typeof record.id === 'string' ? record.id : serviceId;
  if (!id || !Array.isArray(record.categories)) return null;
  const areas = Array.isArray(record.serviceAreas)
    ? (record.serviceAreas as Array<Record<string, unknown>>)
    : [];
  const capacity = (record.capacity ?? {}) as Record<string, unknown>;
  return {
    serviceId: id,
    organizationId,
    active: record.status !== 'inactive',
    categories: strings(record.categories),
    postalCodes: [
      ...new Set(
        areas.filter((a) => a?.kind === 'postal-codes').flatMap((a) => strings(a.postalCodes)),
      ),
    ],
    otherAreas: areas.filter((a) => a?.kind !== 'postal-codes').length,
    capacityStatus: typeof capacity.status === 'string' ? capacity.status : null,
    available: count(capacity.available),
    maximum: count(capacity.maximum),
  };
}
