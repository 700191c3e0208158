import type { Consent, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import {
  assertValidFhirResource,
  badRequest,
  endpointOfReference,
  isRemoteReference,
  parseSearchRequest,
  REMOTE_REFERENCE_ELEMENTS,
  unprocessable,
  checkTaskCreation,
  checkTaskUpdate,
  FhirError,
  forbidden,
  isReferralTask,
  preconditionFailed,
  unprocessableIssues,
  validateReferralRules,
} from '@carerelay/fhir';
import type { RequestActor } from '../request-actor';
import { consentRuleRows, patientIdOf, unredactTaskUpdate } from '../store/consent-access';
import type { StoredResource } from '../store/stored-resource.model';
import type { StoreTransaction } from '../store/store.transaction';
import { organizationIdOf } from '../store/visibility';
import {
  checkPlatformServiceRequestChanges,
  checkPlatformTaskChanges,
  taskRoleOf,
} from './interaction.rules';

/**
 * The checks of a write (create, update, patch; plain, batch or transaction entry) before it is
 * stored: the body, R4 validation (400), the IG's rules (422), the Task workflow (403/422),
 * versions (412/428) and the writer's tenancy (403).
 */

/** Server-managed meta elements are the server's: what a client sends there is dropped. */
function withClientMeta(resource: Resource): Resource {
  if (!resource.meta) return resource;
  const { versionId: _v, lastUpdated: _l, ...meta } = resource.meta;
  const copy = { ...resource } as Resource;
  if (Object.keys(meta).length > 0) copy.meta = meta;
  else delete copy.meta;
  return copy;
}

/** The body of a create or update: a resource of the type, without server-managed meta. */
export function resourceBody(body: unknown, resourceType: string): Resource {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The body must be a FHIR resource (a JSON object)', undefined, 'structure');
  }
  const type = (body as { resourceType?: unknown }).resourceType;
  if (type !== resourceType) {
    throw badRequest(
      `The body is ${typeof type === 'string' ? `a ${type.slice(0, 64)}` : 'not a resource'}; expected a ${resourceType}`,
      'resourceType',
      'invalid',
    );
  }
  return withClientMeta(body as Resource);
}

/** R4 validation (400) then the IG's rules (422) of a resource about to be stored. */
export function validateResource(
  resource: unknown,
  resourceType: string,
  actor: RequestActor,
): Resource {
  const valid = assertValidFhirResource(resource, { expectedResourceType: resourceType });
  const issues = validateReferralRules(valid, { authoredByPlatform: actor.role === 'platform' });
  if (issues.length > 0) throw unprocessableIssues(issues);
  return valid;
}

/** A CBO's update of a Task it sees redacted: only status, statusReason and output count. */
export async function unredact(tx: StoreTransaction, input: Resource): Promise<Resource> {
  if (tx.actor.role !== 'cbo' || input.resourceType !== 'Task' || !input.id) return input;
  const existing = await tx.current('Task', input.id, { forUpdate: true });
  if (!existing || existing.deleted || !existing.patientId) return input;
  if (await tx.showsTaskInFull(existing)) return input;
  return unredactTaskUpdate(existing.resource as Task, input as Task);
}

/** The Task workflow rules of a referral Task being created. */
export function checkCreationRules(actor: RequestActor, resource: Resource): void {
  if (resource.resourceType === 'Task' && isReferralTask(resource)) {
    const role = taskRoleOf(actor, undefined, resource) ?? 'requester';
    const result = checkTaskCreation(resource.status, role);
    if (!result.ok) throw result.error;
  }
}

/**
 * The tenant of a write (create, create-by-update, update; plain, batch or transaction entry):
 *  - a referral (Task, ServiceRequest) written by an EHR or a CBO names as `requester` an
 *    Organization only if it is the writer's own (or, on an update, the one already stored):
 *    nobody sends referrals in another organization's name (403);
 *  - a Consent is written only for a Patient the writer can read (403, the same whether that
 *    Patient is another's or does not exist): consent given for another organization's patient
 *    would disclose that patient to whoever the Consent names. Checked at the end of the
 *    transaction, so that a Bundle may create the Patient in any entry.
 * The platform and coordinators act for the whole network (the role policy keeps coordinators
 * from writing at all).
 */
export async function checkTenant(
  tx: StoreTransaction,
  resource: Resource,
  existing: StoredResource | undefined,
): Promise<void> {
  const actor = tx.actor;
  if (actor.role === 'platform' || actor.role === 'coordinator') return;
  const type = resource.resourceType;
  if (type === 'Task' || type === 'ServiceRequest') {
    const requesterOf = (r: Resource | undefined) =>
      organizationIdOf(
        (r as { requester?: { reference?: string } } | undefined)?.requester?.reference,
        tx.localBaseUrls,
      );
    const declared = requesterOf(resource);
    if (
      declared !== undefined &&
      declared !== actor.organizationId &&
      declared !== requesterOf(existing?.resource)
    )
      throw forbidden(
        `${type}.requester must be the client's own organization (Organization/${actor.organizationId})`,
        `${type}.requester`,
      );
  }
  if (type === 'Consent') tx.defer(() => checkConsentPatient(tx, resource as Consent));
  if (type === 'Task' && isReferralTask(resource as Task))
    await checkRemoteReferences(tx, resource as Task);
}

/** The EHR FHIR bases registered for an organization: its active FHIR REST Endpoints. */
async function registeredBasesOf(
  tx: StoreTransaction,
  organizationId: string,
): Promise<Array<{ baseUrl: string }>> {
  const request = parseSearchRequest(
    'Endpoint',
    new URLSearchParams({ organization: `Organization/${organizationId}`, status: 'active' }),
    { localBaseUrls: tx.localBaseUrls },
  );
  const bases: Array<{ baseUrl: string }> = [];
  for (const id of await tx.matchingIds(request, 50)) {
    const endpoint = (await tx.current('Endpoint', id))?.resource as
      { address?: string; connectionType?: { code?: string } } | undefined;
    if (endpoint?.address && endpoint.connectionType?.code === 'hl7-fhir-rest')
      bases.push({ baseUrl: endpoint.address });
  }
  return bases;
}

/**
 * A referral Task may name its ServiceRequest (`focus`) and Patient (`for`) by an absolute URL on
 * another server only when that server is an EHR endpoint registered for the writer's
 * organization (the ehr-connector publishes them as Endpoint resources): CareRelay then fetches
 * them with that endpoint's credentials. Any other server: 422, nothing written.
 */
async function checkRemoteReferences(tx: StoreTransaction, task: Task): Promise<void> {
  let bases: Array<{ baseUrl: string }> | undefined;
  for (const element of REMOTE_REFERENCE_ELEMENTS) {
    const reference = task[element]?.reference;
    if (!isRemoteReference(reference, tx.localBaseUrls)) continue;
    bases ??= tx.actor.organizationId ? await registeredBasesOf(tx, tx.actor.organizationId) : [];
    if (!endpointOfReference(reference, bases))
      throw unprocessable(
        `Task.${element} names a resource on a server that is neither this one nor an EHR endpoint registered for Organization/${tx.actor.organizationId ?? '(none)'}`,
        `Task.${element}`,
        'business-rule',
      );
  }
}

/** The Consent half of checkTenant, once the transaction's writes are done. */
async function checkConsentPatient(tx: StoreTransaction, consent: Consent): Promise<void> {
  const refused = () =>
    forbidden(
      'Consent.patient must reference a Patient of this server that the client can read',
      'Consent.patient',
    );
  const local = patientIdOf(consent, tx.localBaseUrls);
  // consent_rules key a Consent by the patient id alone, whatever base its reference names.
  if (consent.patient?.reference !== undefined && !local) throw refused();
  const patients = new Set<string>(local ? [local] : []);
  for (const row of consentRuleRows(consent)) patients.add(row.patient_id);
  for (const patientId of patients) {
    const patient = await tx.current('Patient', patientId);
    if (!patient || patient.deleted) throw refused();
  }
}

/**
 * The rules of an update of a stored (not deleted) version: a Task needs If-Match (428), If-Match
 * must name the current version (412), a referral Task changes only as its workflow allows the
 * writer's role, and the platform changes only what it may of others' Tasks and ServiceRequests.
 */
export function checkUpdate(
  actor: RequestActor,
  existing: StoredResource,
  resource: Resource,
  ifMatch: number | undefined,
  localBaseUrls: readonly string[] = [],
): void {
  const { resourceType, id } = existing;
  if (resourceType === 'Task' && ifMatch === undefined) {
    throw new FhirError(428, [
      {
        severity: 'error',
        code: 'required',
        diagnostics: 'Updating a Task requires If-Match with its current ETag (W/"<versionId>")',
      },
    ]);
  }
  if (ifMatch !== undefined && ifMatch !== existing.versionId) {
    throw preconditionFailed(
      `${resourceType}/${id} is at version ${existing.versionId}, not ${ifMatch} (If-Match): read it again`,
    );
  }
  // The version elements are the server's: compared as if the client had sent the stored ones.
  const after = {
    ...resource,
    meta: {
      ...resource.meta,
      versionId: existing.resource.meta?.versionId,
      lastUpdated: existing.resource.meta?.lastUpdated,
    },
  };
  if (
    resourceType === 'Task' &&
    (isReferralTask(existing.resource as Task) || isReferralTask(resource as Task))
  ) {
    const role = taskRoleOf(actor, existing, existing.resource as Task);
    if (!role) throw forbidden(`Only the requester or the owner may update ${resourceType}/${id}`);
    const problem = checkTaskUpdate(existing.resource as Task, after as Task, role);
    if (problem) throw problem;
    const platformProblem = checkPlatformTaskChanges(actor, existing, after as Task, localBaseUrls);
    if (platformProblem) throw platformProblem;
  }
  if (resourceType === 'ServiceRequest') {
    const problem = checkPlatformServiceRequestChanges(actor, existing, after as ServiceRequest);
    if (problem) throw problem;
  }
}
