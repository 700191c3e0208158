import type { Resource } from '@medplum/fhirtypes';
import type { ResourceOrganizations } from './visibility';

export type WriteMethod = 'POST' | 'PUT' | 'DELETE';

export interface StoredResource {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  method?: WriteMethod;
  resource: Resource;
  orgs: ResourceOrganizations;
  /** The Patient the resource is about (of its current version), if any. */
  patientId?: string | null;
}

/** A row of `resources` or `resource_history` as the repositories select it. */
export interface ResourceRow {
  resource_type: string;
  id: string;
  version_id: number;
  deleted: boolean;
  method?: WriteMethod;
  content: Resource;
  requester_org: string | null;
  owner_org: string | null;
  other_orgs: string[];
  patient_id?: string | null;
}

/** The columns of `resources r` that make a ResourceRow. */
export const RESOURCE_COLUMNS =
  'r.resource_type, r.id, r.version_id, r.deleted, r.content, r.requester_org, r.owner_org, r.other_orgs, r.patient_id';

/** jsonb keeps keys in its own order: put resourceType, id and meta first again. */
function ordered(content: Resource): Resource {
  const { resourceType, id, meta, ...rest } = content;
  return { resourceType, id, meta, ...rest } as Resource;
}

export function toStored(row: ResourceRow): StoredResource {
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    lastUpdated: row.content.meta?.lastUpdated ?? '',
    deleted: row.deleted,
    method: row.method,
    resource: ordered(row.content),
    orgs: {
      requesterOrg: row.requester_org,
      ownerOrg: row.owner_org,
      otherOrgs: row.other_orgs ?? [],
    },
    patientId: row.patient_id ?? null,
  };
}
