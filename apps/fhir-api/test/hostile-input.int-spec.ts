import fc from 'fast-check';
import { http, referralBundle, startTestFhirApi, TestFhirApi } from './fhir-api.harness';

/**
 * A thousand malformed or hostile bodies and headers against create, update and transaction:
 * never a 5xx, always an OperationOutcome for a 4xx, and nothing written by a refused request.
 */
describe('hostile input never produces a 5xx and never writes', () => {
  jest.setTimeout(300_000);
  let api: TestFhirApi;
  let taskId: string;

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_MAX_BODY_BYTES: '262144' });
    const created = await http(api.baseUrl, 'POST', '', referralBundle('hostile'));
    taskId = created.body.entry[2].response.location.split('/')[1];
  });
  afterAll(async () => api?.close());

  const written = async () =>
    api.count(
      'SELECT (SELECT count(*) FROM $schema.resource_history) + (SELECT count(*) FROM $schema.outbox) AS n',
    );

  const validTask = () =>
    referralBundle('t').entry![2].resource as unknown as Record<string, unknown>;
  const jsonish = fc.jsonValue({ maxDepth: 4 });
  const mutated = fc
    .tuple(
      fc.constantFrom(
        'status',
        'intent',
        'code',
        'focus',
        'for',
        'owner',
        'meta',
        'id',
        'resourceType',
        'input',
        'output',
        'authoredOn',
        'extension',
        'text',
        '__proto__',
        'constructor',
      ),
      jsonish,
    )
    .map(([key, value]) => JSON.stringify({ ...validTask(), [key]: value }));
  const deep = fc.integer({ min: 50, max: 5000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`);
  const deepResource = fc.integer({ min: 60, max: 400 }).map((n) => {
    let inner: unknown = 'x';
    for (let i = 0; i < n; i++)
      inner = { extension: [{ url: 'u', valueString: 's', extension: [inner] }] };
    return JSON.stringify({ resourceType: 'Patient', extension: [inner] });
  });
  const hostileBundle = fc
    .array(
      fc.record(
        {
          fullUrl: fc.oneof(
            fc.string(),
            fc.constant('urn:uuid:11111111-1111-4111-8111-111111111111'),
          ),
          resource: fc.oneof(jsonish, fc.constant(validTask())),
          request: fc.oneof(
            jsonish,
            fc.record({
              method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', ''),
              url: fc.oneof(
                fc.string(),
                fc.constantFrom(
                  'Task',
                  'Task/x',
                  'Unicorn',
                  '../../etc',
                  'Task?status=x',
                  `Task/${'a'.repeat(100)}`,
                ),
              ),
              ifNoneExist: fc.option(fc.string(), { nil: undefined }),
              ifMatch: fc.option(fc.string(), { nil: undefined }),
            }),
          ),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 6 },
    )
    .map((entry) => JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }));
  const body = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    jsonish.map((v) => JSON.stringify(v)),
    mutated,
    deep,
    deepResource,
    hostileBundle,
    fc.constant('x'.repeat(300_000)),
  );
  const contentType = fc.constantFrom(
    'application/fhir+json',
    'application/json',
    'application/json; charset=utf-16',
    'text/plain',
    'application/xml',
    'multipart/form-data; boundary=x',
    '',
  );
  const target = fc.constantFrom(
    'POST /Patient',
    'POST /Task',
    'PUT /Task',
    'POST /',
    'PUT /Patient/x',
  );
  const ifMatch = fc.oneof(
    fc.constant(undefined),
    fc.string(),
    fc.constantFrom('W/"1"', 'W/"999999999999"', '"-1"', 'W/'),
  );
  const ifNoneExist = fc.oneof(
    fc.constant(undefined),
    fc.string(),
    fc.constantFrom('identifier=a|b', '_id=', 'Task?x=1', 'status=ready&_count=x'),
  );

  it('1,000 bodies and headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        target,
        body,
        contentType,
        ifMatch,
        ifNoneExist,
        async (where, text, type, match, none) => {
          const [method, path] = where.split(' ');
          const url =
            path === '/' ? '' : path === '/Task' && method === 'PUT' ? `/Task/${taskId}` : path;
          const headers: Record<string, string> = {};
          if (type) headers['content-type'] = type;
          if (match !== undefined && /^[\x20-\x7e]*$/.test(match)) headers['if-match'] = match;
          if (none !== undefined && /^[\x20-\x7e]*$/.test(none)) headers['if-none-exist'] = none;
          const before = await written();
          const answer = await http(api.baseUrl, method, url, text, headers);
          expect(answer.status).toBeLessThan(500);
          if (answer.status >= 400) {
            expect(answer.body?.resourceType).toBe('OperationOutcome');
            expect(await written()).toBe(before);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
