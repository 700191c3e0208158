import type { EhrEndpoint } from '../registry/ehr-endpoint.registry';
import { localizationBundle } from './referral-intake';

const EHR = 'https://ehr.example.org/fhir';
const endpoint = { id: 'ehr-a', organizationId: 'hosp-a', baseUrl: EHR } as EhrEndpoint;

const task = {
  resourceType: 'Task',
  id: 't-1',
  meta: { versionId: '3', lastUpdated: '2026-12-03T10:00:00Z' },
  status: 'requested',
  focus: { reference: `${EHR}/ServiceRequest/123` },
  for: { reference: `${EHR}/Patient/9`, display: 'COLIN ABBAS' },
  requester: { reference: 'Organization/hosp-a' },
};
const serviceRequest = {
  resourceType: 'ServiceRequest',
  id: '123',
  meta: { versionId: '7' },
  subject: { reference: 'Patient/9' },
  supportingInfo: [{ reference: 'Consent/c-1' }],
};
const patient = { resourceType: 'Patient', id: '9' };
const consent = { resourceType: 'Consent', id: 'c-1', patient: { reference: 'Patient/9' } };

describe('localizationBundle', () => {
  const bundle = localizationBundle(
    task,
    { serviceRequest, patient, consents: [consent] },
    endpoint,
    'carerelay-platform',
  );
  const entries = bundle.entry as Array<{
    fullUrl: string;
    resource: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    request: Record<string, string>;
  }>;
  const byType = (type: string) => entries.find((e) => e.resource.resourceType === type)!;

  it('copies what the EHR holds by conditional creates on placer identifiers', () => {
    expect(bundle.type).toBe('transaction');
    expect(byType('ServiceRequest').request).toEqual({
      method: 'POST',
      url: 'ServiceRequest',
      ifNoneExist: `identifier=${EHR}/ServiceRequest|123`,
    });
    expect(byType('ServiceRequest').resource.subject.reference).toBe(byType('Patient').fullUrl);
    expect(byType('ServiceRequest').resource.supportingInfo[0].reference).toBe(
      byType('Consent').fullUrl,
    );
    expect(byType('ServiceRequest').resource.requester).toEqual({
      reference: 'Organization/hosp-a',
    });
    expect(byType('ServiceRequest').resource.id).toBeUndefined();
  });

  it('updates the Task with If-Match on the version read, focus and for on the copies, the originals kept as identifiers', () => {
    const entry = byType('Task');
    expect(entry.request).toEqual({ method: 'PUT', url: 'Task/t-1', ifMatch: 'W/"3"' });
    expect(entry.resource.id).toBe('t-1');
    expect(entry.resource.meta).toBeUndefined();
    expect(entry.resource.focus).toEqual({
      reference: byType('ServiceRequest').fullUrl,
      identifier: {
        type: expect.objectContaining({ text: 'Placer Identifier' }),
        system: `${EHR}/ServiceRequest`,
        value: '123',
      },
    });
    expect(entry.resource.for).toMatchObject({
      reference: byType('Patient').fullUrl,
      display: 'COLIN ABBAS',
      identifier: { system: `${EHR}/Patient`, value: '9' },
    });
    expect(entry.resource.requester).toEqual(task.requester);
  });

  it('leaves a reference that is already local as it is', () => {
    const local = localizationBundle(
      { ...task, for: { reference: 'Patient/local-1' } },
      { serviceRequest, patient, consents: [] },
      endpoint,
      'carerelay-platform',
    );
    const updated = (local.entry as Array<{ resource: Record<string, unknown> }>).find(
      (e) => e.resource.resourceType === 'Task',
    )!;
    expect(updated.resource.for).toEqual({ reference: 'Patient/local-1' });
  });
});
