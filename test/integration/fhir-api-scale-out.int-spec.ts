import { randomUUID } from 'node:crypto';
import { TOPICS } from '@carerelay/contracts';
import { loadConfig } from '@carerelay/config';
import { dropSchema } from '@carerelay/persistence';
import { collectTopics, testEnv, uniqueName, waitFor } from '@carerelay/testing';
import { startFhirApi, type RunningFhirApi } from '../../apps/fhir-api/src/bootstrap';
import { FhirApiConfig } from '../../apps/fhir-api/src/fhir-api.config';
import { http, referralBundle } from '../../apps/fhir-api/test/fhir-api.harness';

// Scale-out: two FHIR API instances on one database (as on two machines) take requests side by
// side, and their outbox relays share the outbox (FOR UPDATE SKIP LOCKED): every stored version
// reaches Kafka exactly once — none lost, none published twice.
describe('two fhir-api instances side by side', () => {
  jest.setTimeout(240_000);
  const schema = uniqueName('fhir_scale').toLowerCase();
  const instances: RunningFhirApi[] = [];

  beforeAll(async () => {
    const { KAFKA_BROKERS, DATABASE_URL } = testEnv();
    for (let i = 0; i < 2; i++) {
      instances.push(
        await startFhirApi(
          loadConfig(FhirApiConfig, {
            KAFKA_BROKERS,
            DATABASE_URL,
            FHIR_API_PORT: '0',
            FHIR_BASE_URL: 'http://127.0.0.1:8080/fhir',
            FHIR_DB_SCHEMA: schema,
            FHIR_AUTH_DISABLED: 'true',
            LOG_LEVEL: 'silent',
            OUTBOX_POLL_MS: '20',
            NODE_ENV: 'test',
            // 20 Bundles at once on each instance, all admitted: the store is under test here.
            FHIR_MAX_IN_FLIGHT: '64',
          }),
        ),
      );
    }
  });

  afterAll(async () => {
    for (const instance of instances) await instance.close();
    await dropSchema(testEnv().DATABASE_URL, schema);
  });

  it('serves requests on both, and publishes each stored version exactly once', async () => {
    const changes = await collectTopics([TOPICS.fhirChanges.name]);
    try {
      const run = randomUUID().slice(0, 8);
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          http(instances[i % 2].baseUrl, 'POST', '', referralBundle(`scale-${run}-${i}`)),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      const written = new Set<string>();
      for (const answer of answers)
        for (const entry of answer.body.entry as Array<{ response: { location: string } }>) {
          // Type/id/_history/version
          const [type, id, , version] = entry.response.location.split('/').slice(-4);
          written.add(`${type}/${id}/${version}`);
        }
      // CloudEvents in binary mode: the data is the value, the event id the ce_id header.
      const ours = () =>
        changes.messages
          .map((m) => ({ id: m.headers.ce_id, data: JSON.parse(m.value ?? '{}') }))
          .filter((e) => written.has(`${e.data.resourceType}/${e.data.id}/${e.data.versionId}`));
      await waitFor(() => new Set(ours().map((e) => e.id)).size >= written.size, {
        timeoutMs: 120_000,
      });
      // A little longer: a second publication of anything would show up by now.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const events = ours();
      const versions = events.map((e) => `${e.data.resourceType}/${e.data.id}/${e.data.versionId}`);
      expect(new Set(versions).size).toBe(written.size);
      expect(versions.length).toBe(written.size);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    } finally {
      await changes.stop();
    }
  });
});
