// The real app with auth enabled: AuthModule wired in, its routes winning over the generic FHIR
// routes, the live (port-0) base URL in the SMART configuration and the CapabilityStatement.
import {
  bearer,
  http,
  registerClient,
  startTestFhirApi,
  type TestFhirApi,
} from './fhir-api.harness';

describe('fhir-api with SMART Backend Services wired in', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('serves /fhir/.well-known/smart-configuration (not swallowed by /fhir/:type/:id), with the live token URL', async () => {
    const answer = await http(api.baseUrl, 'GET', '/.well-known/smart-configuration');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.body).toMatchObject({
      issuer: api.baseUrl,
      token_endpoint: `${api.baseUrl}/auth/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
    });
    expect(api.baseUrl).not.toContain(':8080'); // port 0: the real port
  });

  it('publishes the public key of its access tokens as a JWKS (jwks_uri), without a token', async () => {
    const config = await http(api.baseUrl, 'GET', '/.well-known/smart-configuration');
    expect(config.body.jwks_uri).toBe(`${api.baseUrl}/.well-known/jwks.json`);
    const answer = await http(api.baseUrl, 'GET', '/.well-known/jwks.json');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
    expect(answer.body.keys).toHaveLength(1);
    expect(answer.body.keys[0]).toMatchObject({ kid: expect.any(String), use: 'sig' });
    expect(answer.body.keys[0].d).toBeUndefined();
  });

  it('lists the token endpoint and the SMART configuration truthfully in the CapabilityStatement', async () => {
    const metadata = await http(api.baseUrl, 'GET', '/metadata');
    expect(metadata.status).toBe(200);
    const security = metadata.body.rest[0].security;
    const oauth = security.extension.find((e: { url: string }) => e.url.endsWith('oauth-uris'));
    const token = oauth.extension.find((e: { url: string }) => e.url === 'token').valueUri;
    expect(token).toBe(`${api.baseUrl}/auth/token`);
    expect(security.description).toContain(`${api.baseUrl}/.well-known/smart-configuration`);
    expect((await http(api.baseUrl, 'GET', '/.well-known/smart-configuration')).status).toBe(200);
    const audit = metadata.body.rest[0].resource.find(
      (r: { type: string }) => r.type === 'AuditEvent',
    );
    expect(audit.searchParam.map((p: { name: string }) => p.name).sort()).toEqual(
      ['_id', 'action', 'agent', 'date', 'entity', 'outcome', 'subtype'].sort(),
    );
  });

  it('answers /health/live, /health/ready and /metrics without a token (they are outside /fhir)', async () => {
    const root = api.baseUrl.replace(/\/fhir$/, '');
    const ready = await fetch(`${root}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      info: { postgresql: { status: 'up' }, kafka: { status: 'up' } },
    });
    expect((await fetch(`${root}/health/live`)).status).toBe(200);
    const metrics = await (await fetch(`${root}/metrics`)).text();
    expect(metrics).toMatch(/carerelay_outbox_backlog\{schema="[^"]+"\} \d+/);
  });

  it('requires a token everywhere else (401 with WWW-Authenticate)', async () => {
    const answer = await http(api.baseUrl, 'GET', '/Patient');
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(answer.body.resourceType).toBe('OperationOutcome');
  });

  it('routes GET /fhir/AuditEvent to the audit trail (not to the store, which would say 404 not-supported)', async () => {
    const coordinator = await registerClient(api, 'coordinator', 'network-coordinators', 'RS384');
    const token = await coordinator.token('system/*.rs');
    const search = await http(api.baseUrl, 'GET', '/AuditEvent?_count=5', undefined, bearer(token));
    expect(search.status).toBe(200);
    expect(search.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    const read = await http(
      api.baseUrl,
      'GET',
      '/AuditEvent/00000000-0000-4000-8000-000000000000',
      undefined,
      bearer(token),
    );
    expect(read.status).toBe(404);
    expect(read.body.issue[0].diagnostics).toMatch(/AuditEvent\/0+-0000-4000-8000-0+ is not known/);
  });

  it('ran the auth and audit migrations', async () => {
    for (const table of ['auth_clients', 'auth_used_jti', 'auth_signing_keys', 'audit_events']) {
      const n = await api.count(
        `SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`,
        [api.schema, table],
      );
      expect({ table, n }).toEqual({ table, n: 1 });
    }
  });
});
