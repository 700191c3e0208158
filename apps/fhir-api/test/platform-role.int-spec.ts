// The platform role (CareRelay's own services) with real SMART tokens: registered with the CLI's
// code, reads and writes referral resources across the network, mirrors progress onto the source
// Task it owns (status, statusReason, output, businessStatus), completes the source ServiceRequest.
import type { Bundle, ServiceRequest, Task } from '@medplum/fhirtypes';
import type { FhirApiClient, FhirRequestError } from '@carerelay/fhir-client';
import {
  referralBundle,
  registerClient,
  startTestFhirApi,
  type TestFhirApi,
} from './fhir-api.harness';

const PLATFORM = 'carerelay-platform';
const idOf = (entry: { response?: { location?: string } }) =>
  entry.response!.location!.split('/')[1];

describe('the platform role', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: FhirApiClient;
  let platform: FhirApiClient;
  let ids: { patient: string; sr: string; task: string; consent: string };

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    ehr = (await registerClient(api, 'ehr', 'hospital-p', 'RS384')).fhir();
    platform = (await registerClient(api, 'platform', PLATFORM, 'ES384')).fhir('system/*.cruds');
    const response = await ehr.transaction(referralBundle('platform-1', { ownerOrg: PLATFORM }));
    const [patient, sr, task, consent] = ((response as Bundle).entry ?? []).map(idOf);
    ids = { patient, sr, task, consent };
  });
  afterAll(async () => {
    await api?.close();
  });

  const failure = async (promise: Promise<unknown>) => {
    const error = (await promise.then(
      () => undefined,
      (e: unknown) => e,
    )) as FhirRequestError;
    expect(error).toBeDefined();
    return error;
  };

  it('reads an EHR’s referral across the network', async () => {
    const task = await platform.read<Task & { resourceType: 'Task' }>('Task', ids.task);
    expect(task.owner?.reference).toBe(`Organization/${PLATFORM}`);
    await platform.read('Patient', ids.patient);
    await platform.read('Consent', ids.consent);
  });

  it('creates a CBO Task and its filler-order ServiceRequest in one transaction', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:sr',
          resource: {
            resourceType: 'ServiceRequest',
            status: 'active',
            intent: 'filler-order',
            basedOn: [{ reference: `ServiceRequest/${ids.sr}` }],
            category: [
              {
                coding: [
                  {
                    system:
                      'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
                    code: 'food-insecurity',
                  },
                ],
              },
            ],
            code: { coding: [{ system: 'http://snomed.info/sct', code: '467771000124109' }] },
            subject: { reference: `Patient/${ids.patient}` },
            requester: { reference: `Organization/${PLATFORM}` },
            performer: [{ reference: 'Organization/cbo-p' }],
          },
          request: { method: 'POST', url: 'ServiceRequest' },
        },
        {
          fullUrl: 'urn:uuid:task',
          resource: {
            resourceType: 'Task',
            partOf: [{ reference: `Task/${ids.task}` }],
            status: 'requested',
            intent: 'order',
            code: {
              coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }],
            },
            focus: { reference: 'urn:uuid:sr' },
            for: { reference: `Patient/${ids.patient}` },
            authoredOn: new Date().toISOString(),
            requester: { reference: `Organization/${PLATFORM}` },
            owner: { reference: 'Organization/cbo-p' },
          },
          request: { method: 'POST', url: 'Task' },
        },
      ],
    };
    const response: Bundle = (await platform.transaction(bundle)) as Bundle;
    expect(response.entry!.map((e) => e.response!.status)).toEqual(['201 Created', '201 Created']);
  });

  it('as owner of the source Task: accepts it and sets businessStatus', async () => {
    const updated = await platform.updateWithIfMatch<Task & { resourceType: 'Task' }>(
      'Task',
      ids.task,
      (task) => ({ ...task, status: 'accepted', businessStatus: { text: 'routed to cbo-p' } }),
    );
    expect(updated.status).toBe('accepted');
    expect(updated.businessStatus?.text).toBe('routed to cbo-p');
  });

  it('may not change what the EHR wrote on the source Task (403 naming the element)', async () => {
    const error = await failure(
      platform.updateWithIfMatch<Task & { resourceType: 'Task' }>('Task', ids.task, (task) => ({
        ...task,
        priority: 'stat',
      })),
    );
    expect(error.status).toBe(403);
    expect(JSON.stringify(error.outcome)).toContain('Task.priority');
  });

  it('completes the source ServiceRequest, and may change nothing else on it', async () => {
    const error = await failure(
      platform.updateWithIfMatch<ServiceRequest & { resourceType: 'ServiceRequest' }>(
        'ServiceRequest',
        ids.sr,
        (sr) => ({ ...sr, status: 'completed', priority: 'urgent' }),
      ),
    );
    expect(error.status).toBe(403);
    expect(JSON.stringify(error.outcome)).toContain('ServiceRequest.priority');
    const revoked = await failure(
      platform.updateWithIfMatch<ServiceRequest & { resourceType: 'ServiceRequest' }>(
        'ServiceRequest',
        ids.sr,
        (sr) => ({ ...sr, status: 'revoked' }),
      ),
    );
    expect(revoked.status).toBe(403);
    const done = await platform.updateWithIfMatch<
      ServiceRequest & { resourceType: 'ServiceRequest' }
    >('ServiceRequest', ids.sr, (sr) => ({ ...sr, status: 'completed' }));
    expect(done.status).toBe('completed');
  });

  it('may not write AuditEvents (read-only even for the platform)', async () => {
    const error = await failure(
      platform.create({ resourceType: 'AuditEvent', type: { code: 'rest' } }),
    );
    expect([403, 404]).toContain(error.status);
  });
});
