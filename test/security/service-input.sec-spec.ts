import type { INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import { loadConfig } from '@carerelay/config';
import { dropSchema } from '@carerelay/persistence';
import { TOPICS } from '@carerelay/contracts';
import {
  startGroupAtLatest,
  testEnv,
  uniqueName,
  useTestTokens,
  type TestTokenIssuer,
} from '@carerelay/testing';
import { startConsentService } from '../../apps/consent-service/src/bootstrap';
import { ConsentServiceConfig } from '../../apps/consent-service/src/consent-service.config';
import { startDirectoryService } from '../../apps/directory-service/src/bootstrap';
import { DirectoryServiceConfig } from '../../apps/directory-service/src/directory-service.config';
import { startEhrConnector } from '../../apps/ehr-connector/src/bootstrap';
import { EhrConnectorConfig } from '../../apps/ehr-connector/src/ehr-connector.config';
import { startFollowupService } from '../../apps/followup-service/src/bootstrap';
import { FollowupServiceConfig } from '../../apps/followup-service/src/followup-service.config';
import {
  encodeSegment,
  expectProblem,
  hostileBody,
  hostileText,
  methods,
  rowCounts,
  serviceClient,
  type Send,
} from './service-http';

/**
 * The service APIs (directory, follow-up, consent, EHR connector) under hostile input: the
 * requests that answered 500 before (a NUL, a 10,000-level body, a duplicate baseUrl), then
 * fast-check's: any input is a 4xx problem+json (or a 2xx when it happens to be valid), never
 * a 5xx, a refused request writes nothing, and the service is still ready afterwards.
 */
interface Running {
  app: INestApplication;
  send: Send;
  schema: string;
  /** The tables its HTTP API writes. */
  tables: string[];
  /** Route templates (`:id` is filled by the fuzzer). */
  routes: string[];
}

const env = () => ({ ...testEnv(), LOG_LEVEL: 'silent', OUTBOX_POLL_MS: '50', NODE_ENV: 'test' });
const urlOf = async (app: INestApplication) =>
  (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');

/** Every request as the platform (allowed on every route): what is tested is the input. */
async function startAll(issuer: TestTokenIssuer): Promise<Record<string, Running>> {
  const asPlatform = () => issuer.headers('platform');
  const directorySchema = uniqueName('sec_directory').toLowerCase();
  const directory = await startDirectoryService(
    loadConfig(DirectoryServiceConfig, {
      ...env(),
      DIRECTORY_DB_SCHEMA: directorySchema,
      DIRECTORY_BODY_LIMIT: '1mb',
    }),
    { schema: directorySchema, port: 0 },
  );
  // Consumer groups at the topics' end: other runs' events are not replayed.
  const followupSchema = uniqueName('sec_followup').toLowerCase();
  const followupGroup = uniqueName('sec-followup');
  await startGroupAtLatest(followupGroup, [TOPICS.referralEvents.name]);
  const followup = await startFollowupService(loadConfig(FollowupServiceConfig, env()), {
    schema: followupSchema,
    groupId: followupGroup,
    port: 0,
  });
  const consentSchema = uniqueName('sec_consent').toLowerCase();
  const consentGroup = uniqueName('sec-consent');
  await startGroupAtLatest(consentGroup, [TOPICS.fhirChanges.name, TOPICS.referralEvents.name]);
  const consent = await startConsentService(loadConfig(ConsentServiceConfig, env()), {
    schema: consentSchema,
    groupId: consentGroup,
    port: 0,
  });
  const connectorSchema = uniqueName('sec_connector').toLowerCase();
  const connectorGroup = uniqueName('sec-connector');
  await startGroupAtLatest(connectorGroup, [TOPICS.fhirChanges.name]);
  const connector = await startEhrConnector(
    loadConfig(EhrConnectorConfig, {
      ...env(),
      EHR_CONNECTOR_PORT: '0',
      EHR_CONNECTOR_DB_SCHEMA: connectorSchema,
      EHR_CONNECTOR_CONSUMER_GROUP: connectorGroup,
      // Nothing listens there: the fuzzer's endpoints are never reached.
      FHIR_API_BASE_URL: 'http://127.0.0.1:9/fhir',
      FHIR_API_AUTH: 'dev',
      PLATFORM_ORGANIZATION_ID: 'carerelay-platform',
    }),
  );
  return {
    directory: {
      app: directory,
      send: serviceClient(await urlOf(directory), asPlatform),
      schema: directorySchema,
      tables: ['organization', 'location', 'service', 'outbox'],
      routes: [
        '/organizations',
        '/organizations/:id',
        '/locations',
        '/locations/:id',
        '/services',
        '/services/:id',
        '/services/:id/capacity',
        '/import/hsds',
        '/export/hsds',
      ],
    },
    followup: {
      app: followup,
      send: serviceClient(await urlOf(followup), asPlatform),
      schema: followupSchema,
      // Not its outbox: it also handles the referral events other tests publish.
      tables: ['followup_policy', 'contact_attempt', 'followup_outcome'],
      routes: [
        '/policies',
        '/policies/:id',
        '/referrals/:id/contact-attempts',
        '/referrals/:id/followup-outcomes',
        '/referrals/:id/timers',
      ],
    },
    consent: {
      app: consent,
      send: serviceClient(await urlOf(consent), asPlatform),
      schema: consentSchema,
      // Its API only reads; its tables change with the Consent changes other tests publish.
      tables: [],
      routes: ['/consents/decision', '/patients/:id/consents'],
    },
    connector: {
      app: connector,
      send: serviceClient(await urlOf(connector), asPlatform),
      schema: connectorSchema,
      tables: ['ehr_endpoints', 'push_deliveries', 'remote_referrals'],
      routes: [
        '/ehr-endpoints',
        '/ehr-endpoints/:id',
        '/push/deliveries',
        '/pull/refusals',
        '/remote-referrals',
      ],
    },
  };
}

describe('service APIs refuse hostile input with problem+json and write nothing', () => {
  jest.setTimeout(600_000);
  const tokens = useTestTokens();
  let services: Record<string, Running>;

  beforeAll(async () => {
    services = await startAll(tokens.issuer);
  });
  afterAll(async () => {
    for (const s of Object.values(services ?? {})) {
      await s.app.close();
      await dropSchema(testEnv().DATABASE_URL, s.schema);
    }
  });

  const unchanged = async (s: Running, request: () => Promise<void>) => {
    const before = await rowCounts(s.schema, s.tables);
    await request();
    expect(await rowCounts(s.schema, s.tables)).toEqual(before);
  };

  it('directory: a 10,000-level nested body and a NUL-bearing body are 400s', async () => {
    const { send } = services.directory;
    await unchanged(services.directory, async () => {
      const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
      expectProblem(await send('POST', '/organizations', deep), 400);
      expectProblem(
        await send('POST', '/import/hsds', `${'['.repeat(10_000)}${']'.repeat(10_000)}`),
        400,
      );
      const nul = JSON.stringify({ id: 'org-nul', name: 'Food\u0000Bank' });
      expectProblem(await send('POST', '/organizations', nul), 400);
      expectProblem(await send('GET', '/organizations?name=a%00b'), 400);
      expectProblem(await send('POST', '/organizations', '{"id":'), 400);
      expectProblem(
        await send('POST', '/organizations', JSON.stringify({ id: 'x', name: 'a\ud800' })),
        400,
      );
    });
  });

  it('directory: the HSDS import has a size limit, other bodies a smaller one', async () => {
    const { send } = services.directory;
    const big = JSON.stringify({ organizations: [{ id: 'x', name: 'y'.repeat(2 * 1024 * 1024) }] });
    expectProblem(await send('POST', '/import/hsds', big), 413);
    const entry = JSON.stringify({ id: 'org-big', name: 'y'.repeat(300 * 1024) });
    expectProblem(await send('POST', '/organizations', entry), 413);
  });

  it('directory: a republish right after another is refused with 429 and Retry-After', async () => {
    const { send } = services.directory;
    expect((await send('POST', '/admin/republish')).status).toBe(200);
    const again = await send('POST', '/admin/republish');
    expectProblem(again, 429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('follow-up: a NUL in a contact-attempt note is a 400 and records nothing', async () => {
    const { send } = services.followup;
    await unchanged(services.followup, async () => {
      const body = JSON.stringify({
        channel: 'phone',
        outcome: 'reached',
        note: 'called\u0000back',
      });
      expectProblem(await send('POST', '/referrals/ref-1/contact-attempts', body), 400);
      expectProblem(await send('POST', '/referrals/ref%001/contact-attempts', '{}'), 400);
    });
  });

  it('consent: a NUL in a query or path is a 400', async () => {
    const { send } = services.consent;
    expectProblem(await send('GET', '/consents/decision?patient=a%00&recipient=b'), 400);
    expectProblem(await send('GET', '/patients/a%00b/consents'), 400);
  });

  it('connector: a second endpoint with the same baseUrl is a 409, the first stays', async () => {
    const { send } = services.connector;
    const endpoint = (organizationId: string) =>
      JSON.stringify({ organizationId, baseUrl: 'https://ehr.example.org/fhir', modes: ['push'] });
    expect((await send('PUT', '/ehr-endpoints/hospital-a', endpoint('hosp-a'))).status).toBe(200);
    await unchanged(services.connector, async () => {
      const duplicate = await send('PUT', '/ehr-endpoints/hospital-b', endpoint('hosp-b'));
      expectProblem(duplicate, 409);
      expect(duplicate.body.detail).toMatch(/already registered/);
    });
    const listed = await send('GET', '/ehr-endpoints');
    expect(listed.body.map((e: { id: string }) => e.id)).toEqual(['hospital-a']);
  });

  for (const name of ['directory', 'followup', 'consent', 'connector']) {
    it(`${name}: fuzzed requests are never a 5xx, a refusal writes nothing, it stays ready`, async () => {
      const s = services[name];
      const request = fc.record({
        method: methods,
        route: fc.constantFrom(...s.routes),
        id: hostileText,
        query: fc.array(fc.tuple(hostileText, hostileText), { maxLength: 3 }),
        body: hostileBody,
        contentType: fc.constantFrom(
          'application/json',
          'text/plain',
          'application/json; charset=latin1',
        ),
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const query = r.query
            .map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`)
            .join('&');
          const path = r.route.replace(':id', encodeSegment(r.id)) + (query ? `?${query}` : '');
          const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : r.body;
          const before = await rowCounts(s.schema, s.tables);
          const answer = await s.send(r.method, path, body, r.contentType);
          expect(answer.status).toBeLessThan(500);
          // Authenticated as the platform: a refusal is about the input, never the caller.
          expect([401, 403]).not.toContain(answer.status);
          if (answer.status >= 400) {
            expectProblem(answer);
            expect(await rowCounts(s.schema, s.tables)).toEqual(before);
          }
        }),
        { numRuns: 150 },
      );
      expect((await s.send('GET', '/health/ready')).status).toBe(200);
    });
  }
});
