import fc from 'fast-check';
import {
  http,
  referralBundle,
  startTestFhirApi,
  storeCounts,
  type HttpAnswer,
  type TestFhirApi,
} from '../../apps/fhir-api/test/fhir-api.harness';
import { encodeSegment, hostileText } from './service-http';

/**
 * The FHIR API under hostile input: the search values and bodies that answered 500 before, the
 * batch that kept it busy for minutes, searches and bodies from fast-check — every one a 4xx
 * OperationOutcome or a 2xx, never a 5xx; refused requests write nothing but their AuditEvent;
 * the API is ready afterwards. Then its rate limits: 429 with Retry-After.
 */
describe('FHIR API: hostile input is a 4xx OperationOutcome, audited, and writes nothing', () => {
  jest.setTimeout(600_000);
  let api: TestFhirApi;

  beforeAll(async () => {
    api = await startTestFhirApi();
    const created = await http(api.baseUrl, 'POST', '', referralBundle('sec-input'));
    expect(created.status).toBe(200);
  });
  afterAll(async () => api?.close());

  const audits = () => api.count('SELECT count(*) AS n FROM $schema.audit_events');
  const lastAudit = async () =>
    (
      await api.db.query(
        `SELECT subtype, outcome FROM "${api.schema}".audit_events ORDER BY seq DESC LIMIT 1`,
      )
    )[0];
  const expectOutcome = (answer: HttpAnswer, status: number) => {
    expect(answer.status).toBe(status);
    expect(answer.body.resourceType).toBe('OperationOutcome');
  };

  /** Sends, expects `status` with an OperationOutcome, nothing stored and one AuditEvent. */
  const refused = async (
    status: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<HttpAnswer> => {
    const before = await storeCounts(api);
    const auditsBefore = await audits();
    const answer = await http(api.baseUrl, method, path, body);
    expectOutcome(answer, status);
    expect(await storeCounts(api)).toEqual(before);
    expect(await audits()).toBe(auditsBefore + 1);
    expect(String((await lastAudit()).outcome)).toBe('4');
    return answer;
  };

  it('a NUL in string, token and :not search values is a 400', async () => {
    await refused(400, 'GET', '/Patient?name=a%00b');
    await refused(400, 'GET', '/Patient?identifier=http://x|a%00');
    await refused(400, 'GET', '/Task?status:not=a%00');
    await refused(400, 'GET', '/Task?code=%00');
    await refused(400, 'GET', '/Patient/a%00b');
    await refused(400, 'GET', '/Patient?name=%ED%A0%80');
  });

  it('a lone surrogate or a NUL in a Patient is a 400, by create, update and transaction', async () => {
    const patient = (name: string) => ({ resourceType: 'Patient', name: [{ family: name }] });
    await refused(400, 'POST', '/Patient', patient('a\ud800b'));
    await refused(400, 'PUT', '/Patient/surrogate', { ...patient('\udc00'), id: 'surrogate' });
    await refused(400, 'POST', '/Patient', patient('a\u0000b'));
    await refused(400, 'POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ request: { method: 'POST', url: 'Patient' }, resource: patient('a\ud800') }],
    });
  });

  it('a batch of 500 searches of 100 is refused at once as too costly', async () => {
    const started = Date.now();
    const answer = await refused(400, 'POST', '', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: Array.from({ length: 500 }, () => ({
        request: { method: 'GET', url: 'Task?_count=100' },
      })),
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(answer.body.issue[0].code).toBe('too-costly');
  });

  it('a search asking for more than its cost limit is refused', async () => {
    const includes = Array.from({ length: 12 }, () => '_include=Task:focus').join('&');
    const answer = await refused(400, 'GET', `/Task?_count=100&${includes}`);
    expect(answer.body.issue[0].code).toBe('too-costly');
  });

  const types = fc.constantFrom(
    'Patient',
    'Task',
    'ServiceRequest',
    'Consent',
    'Organization',
    'Group',
  );
  const names = fc.oneof(
    fc.constantFrom(
      'name',
      'family',
      'given',
      'birthdate',
      'identifier',
      'status',
      'status:not',
      'code',
      'code:text',
      'name:exact',
      'name:contains',
      'name:missing',
      '_id',
      '_lastUpdated',
      '_count',
      '_offset',
      '_sort',
      '_include',
      '_revinclude',
      '_summary',
      '_elements',
      '_total',
      'patient',
      'owner',
      'requester',
      'focus',
      'subject:Patient',
      '_has:Task:focus:status',
      '_has:Task:patient:_has:Task:part-of:owner',
      'focus:ServiceRequest.patient.identifier',
      'part-of.part-of.part-of.part-of.status',
      'owner:Organization.partof:Organization.name',
      'characteristic-value',
      '_tag',
      '_text',
    ),
    hostileText,
  );
  const values = fc.oneof(
    hostileText,
    fc.constantFrom(
      'gt2020',
      'le',
      'eq2025-01-01T00:00:00Z',
      'Task:focus',
      '*',
      '-_id',
      'x|y',
      '|',
      '100',
      '1e400',
      'true',
      'a$b',
      'x|y$gt2020',
      '$',
    ),
  );

  it('fuzzed searches: never a 5xx, every answer audited, nothing written', async () => {
    const before = await storeCounts(api);
    let sent = 0;
    const auditsBefore = await audits();
    await fc.assert(
      fc.asyncProperty(
        types,
        fc.array(fc.tuple(names, values), { maxLength: 4 }),
        async (type, params) => {
          const query = params.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&');
          const answer = await http(api.baseUrl, 'GET', `/${type}?${query}`);
          sent++;
          expect(answer.status).toBeLessThan(500);
          if (answer.status >= 400) expect(answer.body.resourceType).toBe('OperationOutcome');
        },
      ),
      { numRuns: 300 },
    );
    expect(await storeCounts(api)).toEqual(before);
    expect(await audits()).toBe(auditsBefore + sent);
  });

  it('fuzzed Patient bodies: never a 5xx, a refusal writes nothing', async () => {
    const patient = fc.record(
      {
        resourceType: fc.constantFrom('Patient', 'Patient', 'patient', ''),
        name: fc.array(
          fc.record({ family: hostileText, given: fc.array(hostileText, { maxLength: 2 }) }),
          { maxLength: 2 },
        ),
        birthDate: fc.oneof(hostileText, fc.constantFrom('1980-01-01', '1980', '1980-13-45')),
        gender: fc.constantFrom('female', 'male', 'x', '\u0000'),
        telecom: fc.array(
          fc.record({ system: fc.constantFrom('phone', 'email', 'x'), value: hostileText }),
          { maxLength: 2 },
        ),
      },
      { requiredKeys: ['resourceType'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('POST', 'PUT'), patient, async (method, body) => {
        const before = await storeCounts(api);
        const answer =
          method === 'POST'
            ? await http(api.baseUrl, 'POST', '/Patient', body)
            : await http(api.baseUrl, 'PUT', '/Patient/fuzzed', { ...body, id: 'fuzzed' });
        expect(answer.status).toBeLessThan(500);
        if (answer.status >= 400) {
          expect(answer.body.resourceType).toBe('OperationOutcome');
          expect(await storeCounts(api)).toEqual(before);
        }
      }),
      { numRuns: 200 },
    );
    const ready = await fetch(api.baseUrl.replace(/\/fhir$/, '/health/ready'));
    expect(ready.status).toBe(200);
  });
});

describe('FHIR API rate limits', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;

  beforeAll(async () => {
    api = await startTestFhirApi({
      FHIR_RATE_LIMIT_POINTS: '5',
      FHIR_RATE_LIMIT_WINDOW_SECONDS: '60',
      FHIR_TOKEN_RATE_LIMIT_POINTS: '2',
      FHIR_TOKEN_RATE_LIMIT_WINDOW_SECONDS: '60',
    });
  });
  afterAll(async () => api?.close());

  it('a client over its allowance gets 429 with Retry-After, another client does not', async () => {
    for (let i = 0; i < 5; i++) expect((await http(api.baseUrl, 'GET', '/Task')).status).toBe(200);
    const throttled = await http(api.baseUrl, 'GET', '/Task');
    expect(throttled.status).toBe(429);
    expect(throttled.body.issue[0].code).toBe('throttled');
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    const other = await http(api.baseUrl, 'GET', '/Task', undefined, {
      'X-Dev-Actor': 'cbo:cbo-elsewhere',
    });
    expect(other.status).toBe(200);
  });

  it('the token endpoint answers 429 with an OAuth error beyond its allowance', async () => {
    const token = () =>
      fetch(api.baseUrl + '/auth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
    expect((await token()).status).not.toBe(429);
    expect((await token()).status).not.toBe(429);
    const refused = await token();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });
});
