import { http, referralBundle, startTestFhirApi, type TestFhirApi } from './fhir-api.harness';

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

  const refusedSoFar = async () => {
    const metrics = await fetch(`${api.baseUrl.replace(/\/fhir$/, '')}/metrics`).then((r) =>
      r.text(),
    );
    // The Bundles are new work: an unknown caller's POST.
    const counted = /^carerelay_fhir_admission_refused_total\{lane="new"\} (\d+)/m.exec(metrics);
    return Number(counted?.[1] ?? 0);
  };

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
