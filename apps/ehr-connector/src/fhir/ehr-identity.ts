import { PLACER_IDENTIFIER_TYPE, remoteIdentifierSystem } from '@carerelay/fhir';

/**
 * How a CareRelay resource remembers where it was pulled from: a placer identifier whose system
 * is the EHR's base URL + `/<type>` and whose value is the EHR's id (so `Task.identifier`
 * `http://ehr.example/fhir/Task|123` is the EHR's `Task/123`).
 */
export const PLACER_TYPE = PLACER_IDENTIFIER_TYPE;

export const identitySystem = remoteIdentifierSystem;

/** The CareRelay Task version last written to an EHR Task, kept on the EHR Task itself. */
export const CARERELAY_VERSION_EXTENSION =
  'https://carerelay.example/fhir/StructureDefinition/carerelay-task-version';

/** The identifier system of Procedures copied from CareRelay to an EHR: CareRelay's base + /Procedure. */
export const carerelayIdentitySystem = (carerelayBaseUrl: string, resourceType: string): string =>
  `${carerelayBaseUrl}/${resourceType}`;

interface Identifier {
  system?: string;
  value?: string;
}

/** The EHR-side id recorded on a CareRelay resource, for the given EHR base URL. */
export function ehrIdOf(
  resource: { identifier?: Identifier[] },
  ehrBaseUrl: string,
  resourceType: string,
): string | undefined {
  const system = identitySystem(ehrBaseUrl, resourceType);
  return resource.identifier?.find((i) => i.system === system && i.value)?.value;
}

/**
 * Whether a resource names an EHR's own Task: an identifier `<EHR base>/Task|<id>`, as `ehrIdOf`
 * finds for one EHR. Told without the endpoints: a CBO Task (platform identifiers only) does not.
 */
export function namesEhrTask(resource: object): boolean {
  const identifiers = (resource as { identifier?: unknown }).identifier;
  return (
    Array.isArray(identifiers) &&
    identifiers.some((i: Identifier) => Boolean(i?.value) && Boolean(i?.system?.endsWith('/Task')))
  );
}
