import type { FhirApiClient, Resource } from '@carerelay/fhir-client';
import { relativeTo } from '../fhir/fhir-clients';
import type { EhrEndpoint } from '../registry/ehr-endpoint.registry';
import type { PulledReferral } from './referral-intake';

/** What a referral names on the EHR: its ServiceRequest (focus) and Patient (for). */
export interface ReferralReferences {
  focus?: string;
  for?: string;
}

/**
 * Reads from the EHR (with the endpoint's client, so its credentials) what a referral is made of:
 * the ServiceRequest, the Patient (the Task's `for`, else the ServiceRequest's subject), the
 * Consents the ServiceRequest names in `supportingInfo` and the patient's active ones.
 * `included` holds what the EHR already sent along (a search's `_include`s); what is read is
 * added to it. References off the endpoint's base are not followed.
 */
export async function gatherReferral(
  endpoint: EhrEndpoint,
  ehr: FhirApiClient,
  references: ReferralReferences,
  included: Map<string, Resource> = new Map(),
): Promise<Omit<PulledReferral, 'task'>> {
  const fetch = async (reference: string | undefined): Promise<Resource | undefined> => {
    const local = relativeTo(reference, endpoint.baseUrl);
    if (!local) return undefined;
    const hit = included.get(local);
    if (hit) return hit;
    const [type, id] = local.split('/');
    const resource = await ehr.read(type, id);
    included.set(local, resource);
    return resource;
  };
  const focus = await fetch(references.focus);
  const serviceRequest = focus?.resourceType === 'ServiceRequest' ? focus : undefined;
  const patient = await fetch(references.for ?? serviceRequest?.subject?.reference);
  const consents: Resource[] = [];
  for (const info of (serviceRequest?.supportingInfo as Array<{ reference?: string }>) ?? []) {
    if (!relativeTo(info.reference, endpoint.baseUrl)?.startsWith('Consent/')) continue;
    const consent = await fetch(info.reference);
    if (consent) consents.push(consent);
  }
  // Many EHRs do not link the Consent from the ServiceRequest: the patient's active Consents.
  if (patient?.id) {
    const found = await ehr.search('Consent', {
      patient: `Patient/${patient.id}`,
      status: 'active',
      _count: '20',
    });
    for (const entry of found.entry ?? []) {
      const consent = entry.resource;
      if (consent?.resourceType !== 'Consent' || consents.some((c) => c.id === consent.id))
        continue;
      included.set(`Consent/${consent.id}`, consent);
      consents.push(consent);
    }
  }
  return { serviceRequest, patient, consents };
}
