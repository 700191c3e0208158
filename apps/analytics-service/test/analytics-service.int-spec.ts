import { INestApplication } from '@nestjs/common';
import {
  EventTypes,
  ReferralEventV1,
  ReferralState,
  TOPICS,
  newCloudEvent,
  toKafkaRecord,
  type CloudEvent,
} from '@carerelay/contracts';
import { loadConfig } from '@carerelay/config';
import { DataSource } from 'typeorm';
import { dropSchema } from '@carerelay/persistence';
import {
  referralEvent,
  startGroupAtLatest,
  startTestTokenIssuer,
  testEnv,
  testKafka,
  uniqueName,
  waitFor,
  type TestTokenIssuer,
} from '@carerelay/testing';
import { AnalyticsServiceConfig } from '../src/analytics-service.config';
import { startAnalyticsService } from '../src/bootstrap';
import { rebuildReadModel } from '../src/rebuild/rebuild';
import type { EquityRow, Summary } from '../src/measures/measures';

const HOUR = 3_600_000;
const SDOHCC =
  'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes';

/** What the test publishes about one referral, and what it therefore expects. */
interface Planned {
  i: number;
  referralId: string;
  patientId: string;
  serviceRequestId: string;
  language: string;
  closed: boolean;
  awaitingConsent: boolean;
  rerouted: boolean;
  breached: boolean;
  hoursToClose: number;
}

// Independent arithmetic for the expected interval: Wilson (1927) and Newcombe (1998), inline.
function expectedNewcombe(x1: number, n1: number, x2: number, n2: number) {
  const z = 1.959963984540054;
  const wilson = (x: number, n: number) => {
    const p = x / n;
    const mid = (x + (z * z) / 2) / (n + z * z);
    const half = (z * Math.sqrt(n * p * (1 - p) + (z * z) / 4)) / (n + z * z);
    return [mid - half, mid + half];
  };
  const [l1, u1] = wilson(x1, n1);
  const [l2, u2] = wilson(x2, n2);
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  return {
    lower: p1 - p2 - Math.hypot(p1 - l1, u2 - p2),
    upper: p1 - p2 + Math.hypot(u1 - p1, p2 - l2),
  };
}

describe('analytics-service fed from Kafka (duplicates, redeliveries, out-of-order keys)', () => {
  jest.setTimeout(90_000);
  const schema = uniqueName('analytics_it').toLowerCase();
  const groupId = uniqueName('analytics-service-it');
  const run = uniqueName('an').replace(/_/g, '-');
  const requester = `hosp-${run}`;
  const cboA = `cbo-${run}-a`;
  const cboB = `cbo-${run}-b`;
  const t0 = new Date(Date.now() - 10 * 24 * HOUR);
  const at = (hours: number) => new Date(t0.getTime() + hours * HOUR).toISOString();
  let app: INestApplication;
  let url: string;
  let tokens: TestTokenIssuer;
  const saved = { ...process.env };

  // en 30 (24 closed, 2 waiting for consent), es 20 (6 closed), so 12 (8 closed), vi 3 (1 closed).
  const groups: Array<[string, number, number]> = [
    ['en', 30, 24],
    ['es', 20, 6],
    ['so', 12, 8],
    ['vi', 3, 1],
  ];
  const planned: Planned[] = [];
  for (const [language, n, closed] of groups) {
    for (let k = 0; k < n; k++) {
      const i = planned.length;
      const awaitingConsent = language === 'en' && k >= n - 2;
      planned.push({
        i,
        referralId: `ref-${run}-${i}`,
        patientId: `pat-${run}-${i}`,
        serviceRequestId: `sr-${run}-${i}`,
        language,
        closed: k < closed,
        awaitingConsent,
        rerouted: !awaitingConsent && i % 5 === 0,
        breached: !awaitingConsent && i % 10 === 3,
        hoursToClose: 10 + (i % 7),
      });
    }
  }

  // A planned referral's event, `hours` after its referral was sent.
  const plannedEvent = (
    p: Planned,
    state: ReferralState,
    hours: number,
    more: Partial<ReferralEventV1> = {},
  ) =>
    referralEvent(p.referralId, state, {
      occurredAt: at(p.i / 60 + hours),
      requesterOrganizationId: requester,
      patientId: p.patientId,
      ...more,
    });

  function referralEvents(p: Planned): CloudEvent[] {
    const events = [plannedEvent(p, 'requested', 0)];
    if (p.awaitingConsent) {
      events.push(
        plannedEvent(p, 'awaiting-consent', 0.01, {
          reason: 'No active consent covers disclosure to a CBO',
        }),
      );
      return events;
    }
    events.push(plannedEvent(p, 'routed', 0.02, { attempt: 1, targetOrganizationId: cboA }));
    if (p.rerouted) {
      events.push(
        plannedEvent(p, 'rejected', 0.5, {
          attempt: 1,
          targetOrganizationId: cboA,
          reason: 'No capacity: our waitlist is full this month',
        }),
        plannedEvent(p, 'rerouted', 0.51, { attempt: 2, targetOrganizationId: cboB }),
        plannedEvent(p, 'routed', 0.51, { attempt: 2, targetOrganizationId: cboB }),
      );
    }
    if (p.closed) {
      const cbo = p.rerouted ? cboB : cboA;
      const attempt = p.rerouted ? 2 : 1;
      events.push(
        plannedEvent(p, 'accepted', 2, { attempt, targetOrganizationId: cbo }),
        plannedEvent(p, 'completed', p.hoursToClose, { attempt, targetOrganizationId: cbo }),
      );
    }
    return events;
  }

  const change = (
    resourceType: string,
    id: string,
    lastUpdated: string,
    resource: Record<string, unknown>,
  ) =>
    newCloudEvent({
      source: '/carerelay/fhir-api',
      type: EventTypes.fhirResourceChanged.type,
      subject: `${resourceType}/${id}`,
      data: {
        resourceType,
        id,
        versionId: lastUpdated,
        action: 'update',
        lastUpdated,
        organizations: [requester],
        resource: { resourceType, id, ...resource },
      },
    });

  function patient(p: Planned, zip: string, lastUpdated: string) {
    return change('Patient', p.patientId, lastUpdated, {
      name: [{ family: 'Doe', given: ['Jane'] }],
      identifier: [{ system: 'mrn', value: `MRN-${p.i}` }],
      gender: p.i % 2 ? 'male' : 'female',
      birthDate: '1980-01-15',
      address: [{ use: 'home', postalCode: zip }],
      communication: [
        {
          language: { coding: [{ system: 'urn:ietf:bcp:47', code: p.language }] },
          preferred: true,
        },
      ],
      extension: [
        {
          url: 'https://carerelay.example/fhir/StructureDefinition/payer-type',
          valueCoding: { code: '2' },
        },
      ],
    });
  }

  function fhirChanges(p: Planned): CloudEvent[] {
    return [
      patient(p, '60623', at(1)),
      change('ServiceRequest', p.serviceRequestId, at(0), {
        category: [{ coding: [{ system: SDOHCC, code: 'food-insecurity' }] }],
        code: { coding: [{ code: '467771000124109' }] },
      }),
      change('Task', p.referralId, at(0), {
        focus: { reference: `ServiceRequest/${p.serviceRequestId}` },
        for: { reference: `Patient/${p.patientId}` },
      }),
    ];
  }

  const get = async (
    path: string,
    role: 'coordinator' | 'platform' | 'cbo' | null = 'coordinator',
  ) =>
    fetch(`${url}${path}`, {
      headers: role ? await tokens.headers(role, role === 'cbo' ? cboA : undefined) : {},
    });
  const q = `from=${encodeURIComponent(at(-1))}&to=${encodeURIComponent(at(24 * 5))}&requester=${requester}`;

  beforeAll(async () => {
    tokens = await startTestTokenIssuer();
    Object.assign(process.env, tokens.env);
    const topics = [
      TOPICS.referralEvents.name,
      TOPICS.followupEvents.name,
      TOPICS.consentEvents.name,
      TOPICS.fhirChanges.name,
      TOPICS.directoryEvents.name,
    ];
    await startGroupAtLatest(groupId, topics);
    const config = loadConfig(AnalyticsServiceConfig, { ...testEnv(), LOG_LEVEL: 'warn' });
    app = await startAnalyticsService(config, { schema, groupId, port: 0 });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await tokens?.close();
    process.env = saved;
    await dropSchema(testEnv().DATABASE_URL, schema);
  });

  it('computes every measure and the equity row from a known set of events', async () => {
    const producer = testKafka().producer();
    await producer.connect();
    const send = (topic: string, events: CloudEvent[], keyOf: (e: CloudEvent) => string) =>
      producer.send({ topic, messages: events.map((e) => toKafkaRecord(e, keyOf(e))) });
    const bySubject = (e: CloudEvent) => e.subject!;

    // The en and so referrals' events come before their Patient, ServiceRequest and Task; the es
    // and vi ones after. Every referral's events are redelivered (same event ids) and the
    // completed ones are also published twice under new ids.
    const early = planned.filter((p) => p.language === 'en' || p.language === 'so');
    const late = planned.filter((p) => p.language === 'es' || p.language === 'vi');
    const withDuplicates = (ps: Planned[]) =>
      ps.flatMap((p) => {
        const events = referralEvents(p);
        const again = p.closed
          ? [plannedEvent(p, 'completed', p.hoursToClose, { attempt: p.rerouted ? 2 : 1 })]
          : [];
        return [...events, ...events, ...again];
      });
    await send(TOPICS.referralEvents.name, withDuplicates(early), bySubject);
    // A stale Patient version after the current one: it must not win.
    await send(TOPICS.fhirChanges.name, planned.flatMap(fhirChanges), bySubject);
    await send(TOPICS.fhirChanges.name, [patient(planned[0], '99999', at(0.5))], bySubject);
    await send(TOPICS.referralEvents.name, withDuplicates(late), bySubject);
    // Breaches: one timer announced twice (two event ids, one timer).
    const breaches = planned
      .filter((p) => p.breached)
      .map((p) =>
        newCloudEvent({
          source: '/carerelay/followup-service',
          type: EventTypes.followupBreached.type,
          subject: p.referralId,
          data: {
            referralId: p.referralId,
            kind: 'acceptance',
            occurredAt: at(p.i / 60 + 3),
            detail: { timerId: `timer-${run}-${p.i}`, stage: 'deadline' },
          },
        }),
      );
    const twice = { ...breaches[0], id: `${breaches[0].id}-again` };
    await send(TOPICS.followupEvents.name, [...breaches, twice], bySubject);
    await producer.disconnect();

    // Expected, from the plan alone.
    const n = planned.length;
    const closed = planned.filter((p) => p.closed).length;
    const rerouted = planned.filter((p) => p.rerouted).length;
    const routedAttempts = planned.filter((p) => !p.awaitingConsent).length + rerouted;

    const summary = await waitFor(
      async () => {
        const response = await get(`/analytics/summary?${q}`);
        const body = (await response.json()) as Summary;
        const lang = (await (await get(`/analytics/breakdown?${q}&by=language`)).json()) as {
          rows: Array<{ group: string }>;
        };
        const breaches = body.deadlineBreaches;
        return (
          body.referrals === n &&
          body.closed === closed &&
          breaches === planned.filter((p) => p.breached).length &&
          !lang.rows.some((r) => r.group === 'unknown') &&
          body
        );
      },
      { what: 'the read model to hold every planned event', timeoutMs: 45_000, intervalMs: 300 },
    );
    expect(summary).toMatchObject({
      suppressed: false,
      referrals: 65,
      routed: 63,
      accepted: closed,
      closed: 39,
      closureRate: Number((39 / 65).toFixed(6)),
      awaitingConsent: 2,
      everAwaitedConsent: 2,
      reroutes: rerouted,
      referralsRerouted: rerouted,
      deadlineBreaches: planned.filter((p) => p.breached).length,
      routingAttempts: routedAttempts,
      timeToAccept: {
        accepted: closed,
        medianHours: expect.closeTo(2 - 0, 1),
        p90Hours: expect.any(Number),
      },
    });
    expect(summary.rejections).toEqual([
      {
        reason: 'no-capacity',
        network: false,
        suppressed: false,
        count: rerouted,
        rate: Number((rerouted / routedAttempts).toFixed(6)),
      },
    ]);
    expect(summary.timeToClose!.closed).toBe(39);
    expect(summary.timeToClose!.censored).toBe(26);

    // A stale Patient version did not move patient 0 to another ZIP.
    const zips = (await (await get(`/analytics/breakdown?${q}&by=zip`)).json()) as {
      rows: Array<{ group: string; referrals: number }>;
    };
    expect(zips.rows).toEqual([expect.objectContaining({ group: '60623', referrals: 65 })]);

    // Equity by language: vi (3) is hidden, so (12) with it; es is compared with en, the largest.
    const response = await get(`/analytics/equity?${q}&dimension=language`);
    expect(response.status).toBe(200);
    const table = (await response.json()) as {
      reference: string;
      rows: EquityRow[];
    };
    expect(table.reference).toBe('en');
    const row = (g: string) => table.rows.find((r) => r.group === g)!;
    expect(row('vi')).toMatchObject({ suppressed: true, referrals: null, closureRate: null });
    expect(row('so')).toMatchObject({
      suppressed: true,
      suppression: 'complementary',
      referrals: null,
    });
    const en = planned.filter((p) => p.language === 'en');
    const es = planned.filter((p) => p.language === 'es');
    // en: all open ones are censored after every closure, so the median is the 15th of 30
    // closure times in order.
    const enTimes = en
      .filter((p) => p.closed)
      .map((p) => p.hoursToClose)
      .sort((a, b) => a - b);
    expect(row('en')).toMatchObject({
      reference: true,
      referrals: 30,
      closed: 24,
      closureRate: 0.8,
      medianHoursToClose: enTimes[14],
    });
    const ci = expectedNewcombe(6, 20, 24, 30);
    const esRow = row('es');
    expect(esRow).toMatchObject({
      referrals: es.length,
      closed: 6,
      closureRate: 0.3,
      flagged: true,
      intervalExcludesZero: true,
    });
    expect(esRow.difference).toBeCloseTo(0.3 - 0.8, 6);
    expect(esRow.ratio).toBeCloseTo(0.3 / 0.8, 6);
    expect(esRow.ci95!.lower).toBeCloseTo(ci.lower, 5);
    expect(esRow.ci95!.upper).toBeCloseTo(ci.upper, 5);
    expect(esRow.qValue).toBe(esRow.pValue);
    expect(esRow.medianHoursToClose).toBeNull(); // 6 of 20 closed: never half
    // Nothing identifying in any answer.
    const all = JSON.stringify({ summary, table, zips });
    for (const leak of [planned[0].patientId, 'MRN-', 'Doe', '1980'])
      expect(all).not.toContain(leak);

    // CSV of the same table.
    const csv = await get(`/analytics/equity?${q}&dimension=language&format=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines).toHaveLength(1 + 4);
    expect(lines[0].split(',')).toEqual(
      expect.arrayContaining([
        'dimension',
        'group',
        'closureRate',
        'ci95_lower',
        'ci95_upper',
        'flagged',
      ]),
    );
  });

  // The topics hold every earlier suite's events too (CI's broker is shared by the whole run):
  // the rebuild reads them all, so it gets minutes, not the 90 s of the other tests.
  it('analytics:rebuild reads the topics from the start into fresh tables with the same numbers', async () => {
    const config = loadConfig(AnalyticsServiceConfig, { ...testEnv(), LOG_LEVEL: 'warn' });
    const rebuilt = `${schema}_rb`;
    try {
      const result = await rebuildReadModel(config, { schema: rebuilt, timeoutMs: 240_000 });
      expect(result.referrals).toBeGreaterThanOrEqual(planned.length);
      const dataSource = app.get(DataSource);
      // Every column but changed_xid (which transaction wrote the row).
      const columns = `referral_id, requested_at, routed_at, accepted_at, completed_at,
        terminal_state, terminal_at, current_state, current_state_at, attempts, reroutes,
        awaited_consent, requester_org, target_org, patient_key`;
      const differing = async (a: string, b: string) =>
        (
          await dataSource.query(
            `SELECT count(*)::int AS n FROM (
               SELECT ${columns} FROM "${a}".referral WHERE requester_org = $1
               EXCEPT SELECT ${columns} FROM "${b}".referral WHERE requester_org = $1) x`,
            [requester],
          )
        )[0].n as number;
      expect(await differing(schema, rebuilt)).toBe(0);
      expect(await differing(rebuilt, schema)).toBe(0);
      const [{ n }] = await dataSource.query(
        `SELECT count(*)::int AS n FROM "${rebuilt}".referral WHERE requester_org = $1`,
        [requester],
      );
      expect(n).toBe(planned.length);
    } finally {
      await dropSchema(testEnv().DATABASE_URL, rebuilt);
    }
  }, 300_000);

  it('admits coordinators and the platform only, and answers bad parameters with problem+json', async () => {
    expect((await get(`/analytics/summary?${q}`, 'platform')).status).toBe(200);
    const anonymous = await get(`/analytics/summary?${q}`, null);
    expect(anonymous.status).toBe(401);
    expect((await get(`/analytics/summary?${q}`, 'cbo')).status).toBe(403);
    for (const [path, status] of [
      ['/analytics/breakdown?by=name', 400],
      ['/analytics/breakdown', 400],
      ['/analytics/equity?dimension=language&reference=xx', 422],
      ['/analytics/summary?from=yesterday', 400],
      ['/analytics/summary?from=2026-02-01&to=2026-01-01', 400],
      ['/analytics/summary?patient=1', 400],
      ["/analytics/summary?zip=1'%20OR%201=1", 400],
      ['/analytics/equity?dimension=language&format=xml', 400],
    ] as Array<[string, number]>) {
      const response = await get(path);
      expect([path, response.status]).toEqual([path, status]);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      const body = (await response.json()) as { status: number; detail: string };
      expect(body.status).toBe(status);
      expect(body.detail.length).toBeGreaterThan(0);
    }
  });

  it('serves its OpenAPI description at /docs without a token, and no data with it', async () => {
    const json = await get('/docs/openapi.json', null);
    expect(json.status).toBe(200);
    const document = (await json.json()) as {
      paths: Record<string, { get: { security?: unknown[]; parameters: Array<{ name: string }> } }>;
    };
    for (const path of [
      '/analytics/summary',
      '/analytics/timeseries',
      '/analytics/breakdown',
      '/analytics/equity',
    ]) {
      expect(document.paths[path].get.security).toEqual([{ bearer: [] }]);
      expect((await get(path, null)).status).toBe(401);
    }
    expect(document.paths['/analytics/equity'].get.parameters.map((p) => p.name)).toEqual(
      expect.arrayContaining(['dimension', 'reference', 'format', 'from', 'to', 'language']),
    );
    expect(JSON.stringify(document)).not.toContain(requester);
    const ui = await get('/docs', null);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });

  it('answers a time series per week, also as CSV', async () => {
    const weekly = (await (await get(`/analytics/timeseries?${q}`)).json()) as {
      by: string;
      rows: Array<{ group: string; referrals: number | null }>;
    };
    expect(weekly.by).toBe('week');
    // The Monday (UTC) of each request, counted here.
    const expected = new Map<string, number>();
    for (const p of planned) {
      const d = new Date(at(p.i / 60));
      const monday = new Date(
        Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7)),
      );
      const key = monday.toISOString().slice(0, 10);
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(weekly.rows.map((r) => r.group).sort()).toEqual([...expected.keys()].sort());
    for (const row of weekly.rows)
      if (row.referrals !== null) expect(row.referrals).toBe(expected.get(row.group));
    const csv = await get(`/analytics/timeseries?${q}&period=day&format=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect((await csv.text()).split('\r\n')[0]).toContain('group,suppressed');
  });

  it('shows unmet need by category and ZIP beside the directory services covering that ZIP', async () => {
    const service = (id: string, occurredAt: string, available: number, status = 'available') =>
      newCloudEvent({
        source: '/carerelay/directory',
        type: EventTypes.directoryServiceUpserted.type,
        subject: cboA,
        data: {
          organizationId: cboA,
          serviceId: id,
          occurredAt,
          record: {
            id,
            organizationId: cboA,
            name: 'Food pantry',
            status: 'active',
            categories: ['food-insecurity'],
            serviceAreas: [{ kind: 'postal-codes', postalCodes: ['60623', '60624'] }],
            capacity: { status, available },
          },
        },
      });
    const producer = testKafka().producer();
    await producer.connect();
    // The newer version first, then a stale one that must not win.
    await producer.send({
      topic: TOPICS.directoryEvents.name,
      messages: [
        service(`svc-${run}`, at(5), 7),
        service(`svc-${run}`, at(1), 99, 'no-capacity'),
        service(`svc-${run}-2`, at(5), 3, 'waitlist'),
      ].map((e) => toKafkaRecord(e, cboA)),
    });
    await producer.disconnect();
    type Row = Record<string, number | string | null | boolean>;
    const row = await waitFor(
      async () => {
        const body = (await (await get(`/analytics/unmet-need?${q}`)).json()) as { rows: Row[] };
        const found = body.rows.find((r) => r.category === 'food-insecurity' && r.zip === '60623');
        return found && found.directoryServices === 2 ? found : undefined;
      },
      { timeoutMs: 30_000, what: 'the directory services' },
    );
    // Counted here: the re-routed referrals are the ones a CBO turned away for capacity.
    const noCapacity = planned.filter((p) => p.rerouted).length;
    expect(row).toEqual({
      category: 'food-insecurity',
      zip: '60623',
      suppressed: false,
      referrals: planned.length,
      noCapacity,
      notEligible: 0,
      outOfArea: 0,
      noCbo: 0,
      unmet: noCapacity,
      unmetRate: Math.round((noCapacity / planned.length) * 1e6) / 1e6,
      directoryServices: 2,
      directoryServicesWithCapacity: 1,
      directoryAvailableUnits: 10,
    });
    const csv = await get(`/analytics/unmet-need?${q}&format=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect((await csv.text()).split('\r\n')[0]).toBe(
      'category,zip,suppressed,referrals,noCapacity,notEligible,outOfArea,noCbo,unmet,unmetRate,directoryServices,directoryServicesWithCapacity,directoryAvailableUnits',
    );
  });
});
