import { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EventTypes, TOPICS, newCloudEvent, toKafkaRecord } from '@carerelay/contracts';
import { loadConfig } from '@carerelay/config';
import { dropSchema } from '@carerelay/persistence';
import { collectTopics, testEnv, testKafka, uniqueName, waitFor } from '@carerelay/testing';
import { startReferralService } from '../src/bootstrap';
import { ReferralServiceConfig } from '../src/referral-service.config';

describe('referral-service skeleton on real Kafka and PostgreSQL', () => {
  jest.setTimeout(90_000);
  const schema = uniqueName('referral_it').toLowerCase();
  let app: INestApplication;
  let dataSource: DataSource;

  beforeAll(async () => {
    const config = loadConfig(ReferralServiceConfig, { ...testEnv(), OUTBOX_POLL_MS: '50' });
    app = await startReferralService(config, {
      schema,
      groupId: uniqueName('referral-service-it'),
      port: 0,
    });
    dataSource = app.get(DataSource);
  });

  afterAll(async () => {
    await app?.close();
    await dropSchema(testEnv().DATABASE_URL, schema);
  });

  it('turns a new source Task into a referral, once, and announces referral.requested', async () => {
    const taskId = uniqueName('task').replace(/_/g, '-');
    const change = newCloudEvent({
      source: '/carerelay/fhir-api',
      type: EventTypes.fhirResourceChanged.type,
      subject: `Task/${taskId}`,
      data: {
        resourceType: 'Task',
        id: taskId,
        versionId: '1',
        action: 'create' as const,
        lastUpdated: new Date().toISOString(),
        organizations: ['hospital-a'],
        resource: {
          resourceType: 'Task',
          id: taskId,
          status: 'requested',
          intent: 'order',
          code: {
            coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }],
          },
          focus: { reference: 'ServiceRequest/sr-1' },
          for: { reference: 'Patient/pat-1' },
          requester: { reference: 'Organization/hospital-a' },
        },
      },
    });
    const events = await collectTopics([TOPICS.referralEvents.name]);
    const producer = testKafka().producer();
    await producer.connect();
    const record = toKafkaRecord(change, `Task/${taskId}`);
    // The same event twice, as an at-least-once relay may publish it.
    await producer.send({ topic: TOPICS.fhirChanges.name, messages: [record, record] });
    await producer.disconnect();

    const requested = await waitFor(() => events.messages.find((m) => m.key === taskId), {
      what: 'referral.requested',
      timeoutMs: 30_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await events.stop();

    expect(requested.headers.ce_type).toBe('org.carerelay.referral.requested.v1');
    expect(requested.headers.ce_subject).toBe(taskId);
    expect(JSON.parse(requested.value!)).toMatchObject({
      referralId: taskId,
      state: 'requested',
      requesterOrganizationId: 'hospital-a',
      patientId: 'pat-1',
    });
    expect(events.messages.filter((m) => m.key === taskId)).toHaveLength(1);
    const rows = await dataSource.query(`SELECT state FROM "${schema}".referral WHERE id = $1`, [
      taskId,
    ]);
    expect(rows).toEqual([{ state: 'requested' }]);
  });

  it('answers its health and metrics endpoints', async () => {
    const url = await app.getUrl();
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      info: { postgresql: { status: 'up' }, kafka: { status: 'up' } },
    });
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/carerelay_outbox_backlog \d+/);
    expect(metrics).toMatch(/carerelay_http_request_duration_seconds_bucket/);
  });
});
