import type { CapabilityStatement } from '@medplum/fhirtypes';
import {
  buildCapabilityStatement,
  DEFAULT_INCLUDES,
  type ResourceCapability,
  SUPPORTED_RESOURCE_TYPES,
  type TypeInteraction,
} from './fhir-lib';

/** The interactions this app implements for every IG resource type (Task: no delete). */
export function resourceCapabilities(): ResourceCapability[] {
  return SUPPORTED_RESOURCE_TYPES.map((type) => {
    const interactions: TypeInteraction[] = [
      'read',
      'vread',
      'create',
      'update',
      'search-type',
      'history-instance',
      'history-type',
    ];
    if (type !== 'Task') interactions.push('delete');
    return {
      type,
      interactions,
      searchInclude: DEFAULT_INCLUDES[type] ?? [],
      conditionalCreate: true,
      versioning: 'versioned-update',
      documentation:
        type === 'Task'
          ? 'Update requires If-Match (428 without it, 412 when stale). Status transitions and who may make them follow the SDOHCC referral rules; the owner may change only status, statusReason and output. Not deleted: use entered-in-error.'
          : undefined,
    };
  });
}

export function capabilityStatement(baseUrl: string, tokenUrl?: string): CapabilityStatement {
  const statement = buildCapabilityStatement({
    baseUrl,
    resources: resourceCapabilities(),
    systemInteractions: ['transaction', 'batch'],
    software: { name: 'CareRelay FHIR API', version: '0.1.0' },
    publisher: 'CareRelay',
    smartBackendServices: tokenUrl ? { tokenUrl } : undefined,
  });
  // Update on a new id creates the resource (PUT Type/id): say so.
  for (const resource of statement.rest?.[0].resource ?? []) resource.updateCreate = true;
  return statement;
}
