// An EHR's whole flow with real SMART Backend Services tokens: fhir-kit-client (through
// libs/fhir-client) obtains a token, posts a transaction Bundle built from the IG examples, reads
// each resource back, searches Task?requester=…&status=requested&_lastUpdated=gt…&_include=Task:focus,
// and a fhir.changes.v1 event arrives on Kafka for each resource.
import type { Bundle, Task } from '@medplum/fhirtypes';
import { collectTopics, waitFor } from '@carerelay/testing';
import type { FhirApiClient } from '@carerelay/fhir-client';
import { EventTypes } from '@carerelay/contracts';
import {
  PRACTITIONER_ROLE,
  referralBundle,
  registerClient,
  startTestFhirApi,
  type TestFhirApi,
} from './fhir-api.harness';

describe('the EHR flow with real tokens', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: FhirApiClient;
  let collector: Awaited<ReturnType<typeof collectTopics>>;
  let response: Bundle;
  const before = new Date(Date.now() - 1000).toISOString();

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    collector = await collectTopics(['fhir.changes.v1']);
    const client = await registerClient(api, 'ehr', 'hospital-flow', 'RS384');
    ehr = client.fhir(
      'system/Patient.cruds system/ServiceRequest.cruds system/Task.cruds system/Consent.cruds',
    );
    response = (await ehr.transaction(referralBundle('smart-flow'))) as Bundle;
  });
  afterAll(async () => {
    await collector?.stop();
    await api?.close();
  });

  const refs = () => response.entry!.map((e) => e.response!.location!.split('/_history')[0]);

  it('creates the referral in one transaction', () => {
    expect(response.type).toBe('transaction-response');
    expect(response.entry!.map((e) => e.response!.status)).toEqual(Array(4).fill('201 Created'));
  });

  it('reads each resource back', async () => {
    for (const ref of refs()) {
      const [type, id] = ref.split('/');
      const resource = await ehr.read(type, id);
      expect(resource).toMatchObject({ resourceType: type, id, meta: { versionId: '1' } });
    }
  });

  it('finds the Task by requester, status and _lastUpdated with its focus included', async () => {
    const bundle = (await ehr.search('Task', {
      requester: PRACTITIONER_ROLE,
      status: 'requested',
      _lastUpdated: `gt${before}`,
      _include: 'Task:focus',
    })) as unknown as Bundle;
    const task = bundle.entry!.find((e) => e.search?.mode === 'match')!.resource as Task;
    const focus = bundle.entry!.find((e) => e.search?.mode === 'include')!.resource!;
    expect(refs()).toContain(`Task/${task.id}`);
    expect(`${focus.resourceType}/${focus.id}`).toBe(task.focus!.reference);
  });

  it('emits a fhir.changes.v1 event per resource', async () => {
    await waitFor(() => refs().every((ref) => collector.messages.some((m) => m.key === ref)), {
      timeoutMs: 20_000,
    });
    for (const ref of refs()) {
      const message = collector.messages.find((m) => m.key === ref)!;
      expect(message.headers.ce_type).toBe(EventTypes.fhirResourceChanged.type);
      const data = JSON.parse(message.value!);
      expect(data).toMatchObject({ action: 'create', versionId: '1' });
      expect(data.organizations).toContain('hospital-flow');
    }
  });
});
