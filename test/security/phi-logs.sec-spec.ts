import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { dropSchema } from '@carerelay/persistence';
import {
  LIBRARY_SOURCES,
  compileSources,
  startServiceProcess,
  testEnv,
  uniqueName,
  type ServiceProcess,
} from '@carerelay/testing';

/**
 * No patient data in logs: the FHIR API runs as its own process (as npm start runs it, at the
 * most verbose log level), receives patients with distinctive names and birth dates — stored,
 * refused by validation, refused as bad input, searched for, and one write that fails in the
 * database with an error message quoting the row — and its whole output holds none of them.
 */
describe('the FHIR API logs no patient name or birth date', () => {
  jest.setTimeout(180_000);
  const { DATABASE_URL, KAFKA_BROKERS } = testEnv();
  const schema = uniqueName('sec_phi_logs').toLowerCase();
  const tag = randomBytes(4)
    .toString('hex')
    .replace(/\d/g, (d) => 'ghijklmnop'[Number(d)]);
  const family = `Zyxwarblequist${tag}`;
  const given = `Quintessa${tag}`;
  const birthDates = ['1931-07-19', '1927-03-08', '1929-11-23'];
  let api: ServiceProcess;
  let base: string;

  const send = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/fhir+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await response.text();
    return response.status;
  };
  const patient = (id: string, birthDate: string, extra: Record<string, unknown> = {}) => ({
    resourceType: 'Patient',
    id,
    name: [{ family, given: [given] }],
    birthDate,
    telecom: [{ system: 'phone', value: '555-0199' }],
    ...extra,
  });

  beforeAll(async () => {
    const dist = compileSources(['apps/fhir-api/src', ...LIBRARY_SOURCES]);
    api = await startServiceProcess(dist, 'apps/fhir-api/src/main.js', {
      DATABASE_URL,
      KAFKA_BROKERS,
      FHIR_API_PORT: '0',
      FHIR_BASE_URL: 'http://127.0.0.1:8080/fhir',
      FHIR_DB_SCHEMA: schema,
      FHIR_AUTH_DISABLED: 'true',
      NODE_ENV: 'test',
      LOG_LEVEL: 'trace',
      OUTBOX_POLL_MS: '50',
    });
    base = api.url;
    // A database that refuses one patient with a message quoting the row, as drivers do for
    // bad values (`invalid input syntax for type date: "…"`).
    const db = new Client({ connectionString: DATABASE_URL });
    await db.connect();
    await db.query(`
      CREATE FUNCTION "${schema}".refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = 'fails-in-db' THEN RAISE EXCEPTION 'refused row %', NEW.content; END IF;
        RETURN NEW;
      END $$`);
    await db.query(`CREATE TRIGGER refuse_marked BEFORE INSERT ON "${schema}".resources
      FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_marked()`);
    await db.end();
  });

  afterAll(async () => {
    if (api) {
      api.child.kill('SIGTERM');
      await api.exited;
    }
    await dropSchema(DATABASE_URL, schema);
  });

  it('stores, refuses and fails writes of patients, and none of their data is logged', async () => {
    expect(await send('PUT', 'Patient/stored', patient('stored', birthDates[0]))).toBe(201);
    expect(await send('GET', `Patient?family=${family}&birthdate=${birthDates[0]}`)).toBe(200);
    expect(await send('GET', `Patient/stored`)).toBe(200);
    // Refused by validation, by the input guard, and failing in the database.
    expect(
      await send('POST', 'Patient', patient('x', birthDates[1], { gender: 'unknown-gender-code' })),
    ).toBe(400);
    expect(await send('POST', 'Patient', patient('x', birthDates[1], { gender: 'a\ud800b' }))).toBe(
      400,
    );
    expect(await send('GET', `Patient?name=${family}%00`)).toBe(400);
    expect(await send('PUT', 'Patient/fails-in-db', patient('fails-in-db', birthDates[2]))).toBe(
      500,
    );
    expect(
      await send('POST', '', {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          {
            request: { method: 'PUT', url: 'Patient/fails-in-db' },
            resource: patient('fails-in-db', birthDates[2]),
          },
          { request: { method: 'GET', url: `Patient?family=${family}` } },
        ],
      }),
    ).toBe(200);

    // Give the outbox relay and the request log a moment to write what they would.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const output = api.output();
    // The capture works: the requests and the database failure are logged...
    expect(output).toMatch(/"msg":"request"/);
    expect(output).toMatch(/database error/);
    // ...and nothing of the patients is.
    for (const secret of [family, given, ...birthDates, '555-0199']) {
      expect(output.includes(secret) ? secret : undefined).toBeUndefined();
    }
  });
});
