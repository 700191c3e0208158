import { request as httpRequest, type ClientRequest } from 'node:http';
import { metricValue } from '@carerelay/testing';
import { http, referralBundle, startTestFhirApi, type TestFhirApi } from './fhir-api.harness';

/** The API's root, where it answers /metrics. */
const rootOf = (api: TestFhirApi) => api.baseUrl.replace(/\/fhir$/, '');

// Over its admission limits the API refuses at once (503 + Retry-After, OperationOutcome
// `transient`) and the refused requests write nothing; what it admitted is served in full.
describe('fhir-api admission control', () => {
  let api: TestFhirApi;

  beforeAll(async () => {
    api = await startTestFhirApi({
      FHIR_MAX_IN_FLIGHT: '1',
      FHIR_MAX_QUEUED: '0',
      FHIR_MAX_QUEUE_WAIT_MS: '0',
    });
  }, 60_000);
  afterAll(() => api?.close(), 60_000);

  // The Bundles are new work: an unknown caller's POST.
  const refusedSoFar = () =>
    metricValue(rootOf(api), 'carerelay_fhir_admission_refused_total', { lane: 'new' });

  it('refuses what is over the limit with 503 + Retry-After and writes nothing for it', async () => {
    const before = await refusedSoFar();
    const tags = Array.from({ length: 24 }, (_, i) => `adm-${Date.now()}-${i}`);
    const answers = await Promise.all(
      tags.map((tag) => http(api.baseUrl, 'POST', '', referralBundle(tag))),
    );
    const statuses = answers.map((a) => a.status);
    const refused = answers.filter((a) => a.status === 503);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThan(tags.length);
    for (const answer of refused) {
      expect(answer.headers.get('retry-after')).toBe('1');
      // The Bundle (under 1 MiB) was read and dropped: the connection stays open for the retry.
      expect(answer.headers.get('connection')).not.toBe('close');
      expect(answer.body).toMatchObject({
        resourceType: 'OperationOutcome',
        issue: [{ code: 'transient' }],
      });
    }
    expect((await refusedSoFar()) - before).toBe(refused.length);

    // Exactly the admitted referrals were stored: one Task per 200, none per 503.
    for (const [i, tag] of tags.entries()) {
      const found = await http(
        api.baseUrl,
        'GET',
        `/Task?identifier=http://hospital.smarthealthit.org/referrals|task-${tag}&_summary=count`,
      );
      expect({ tag, total: found.body.total }).toEqual({
        tag,
        total: statuses[i] === 200 ? 1 : 0,
      });
    }
  }, 120_000);
});

// New work (an EHR's POST) is refused first: the slots kept for work under way stay open to a
// read while new work has none left.
describe('fhir-api admission lanes', () => {
  let api: TestFhirApi;

  beforeAll(async () => {
    api = await startTestFhirApi({
      FHIR_MAX_IN_FLIGHT: '2',
      FHIR_MAX_QUEUED: '0',
      FHIR_MAX_QUEUE_WAIT_MS: '0',
      FHIR_ADMISSION_RESERVED_FOR_PLATFORM: '0',
      FHIR_ADMISSION_RESERVED_FOR_UNDER_WAY: '1',
    });
  }, 60_000);
  afterAll(() => api?.close(), 60_000);

  const inFlight = () => metricValue(rootOf(api), 'carerelay_fhir_requests_in_flight');

  it('refuses a second POST while one holds the only slot of new work, and admits a read', async () => {
    // A POST whose body is still coming holds its slot: admission comes before the body is read.
    const body = JSON.stringify(referralBundle(`lane-${Date.now()}`));
    const url = new URL(api.baseUrl);
    let slow: ClientRequest | undefined;
    const slowAnswer = new Promise<number>((resolve, reject) => {
      slow = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/fhir+json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      slow.on('error', reject);
      slow.write(body.slice(0, 100));
    });
    const deadline = Date.now() + 10_000;
    while ((await inFlight()) < 1 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await inFlight()).toBe(1);

    const refused = await http(api.baseUrl, 'POST', '', referralBundle(`lane-2-${Date.now()}`));
    expect(refused.status).toBe(503);
    const read = await http(api.baseUrl, 'GET', '/Task?_summary=count');
    expect(read.status).toBe(200);

    slow!.end(body.slice(100));
    expect(await slowAnswer).toBe(200);
    const after = await http(api.baseUrl, 'POST', '', referralBundle(`lane-3-${Date.now()}`));
    expect(after.status).toBe(200);
  }, 60_000);
});
