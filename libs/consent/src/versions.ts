/** A FHIR resource version as seen on fhir.changes.v1. */
export interface ResourceVersion {
  versionId: string;
  /** ISO instant (meta.lastUpdated). */
  lastUpdated: string;
}

const NUMERIC = /^\d{1,15}$/;

/**
 * Whether `incoming` is a later version than `current`. The FHIR API numbers versions 1, 2, 3…;
 * when both ids are numbers they decide, otherwise meta.lastUpdated does. Equal is not newer, so
 * a redelivered or late event never overwrites what is stored.
 */
export function isNewerVersion(incoming: ResourceVersion, current: ResourceVersion): boolean {
  if (NUMERIC.test(incoming.versionId) && NUMERIC.test(current.versionId)) {
    return Number(incoming.versionId) > Number(current.versionId);
  }
  return Date.parse(incoming.lastUpdated) > Date.parse(current.lastUpdated);
}
