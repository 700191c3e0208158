import {
  actionOf,
  buildAuditEvent,
  CLIENT_ID_SYSTEM,
  entityReferences,
  outcomeOfStatus,
} from './audit-event.builder';
import { OnBehalfOfClients, onBehalfOfFor } from '../auth/auth.guard';
import { auditWhere, dateRange, parseAuditQuery } from './audit-search';
import type { RequestActor } from '../request-actor';

const actor: RequestActor = {
  clientId: 'crc_1',
  organizationId: 'hosp-1',
  role: 'ehr',
  scopes: [],
};
const at = new Date('2026-01-02T03:04:05.678Z');

describe('buildAuditEvent', () => {
  it('records each consent decision on its entity, and what was withheld in outcomeDesc', () => {
    const event = buildAuditEvent({
      actor: { ...actor, role: 'cbo', purposeOfUse: 'TREAT' },
      subtype: 'search-type',
      resourceType: 'Observation',
      ids: ['Observation/o1'],
      query: 'subject=Patient/p1',
      outcome: 0,
      at,
      consentDecisions: [
        {
          reference: 'Observation/o1/_history/1',
          shown: 'disclosed',
          code: 'permitted',
          consentId: 'c1',
          labels: ['42CFRPart2'],
        },
        {
          reference: 'Observation/o2/_history/3',
          shown: 'withheld',
          code: 'labels-not-covered',
          consentId: undefined,
          labels: ['PSY'],
        },
      ],
    });
    expect(event.agent[0].purposeOfUse).toEqual([
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }] },
    ]);
    expect(event.outcomeDesc).toBe('consent decision withheld Observation/o2 (labels-not-covered)');
    const o1 = event.entity!.find((e) => e.what?.reference === 'Observation/o1')!;
    expect(o1.detail).toEqual([
      { type: 'consent-decision', valueString: 'disclosed (permitted, Consent/c1)' },
    ]);
    expect(o1.securityLabel).toEqual([{ code: '42CFRPart2' }]);
    const o2 = event.entity!.find((e) => e.what?.reference === 'Observation/o2/_history/3')!;
    expect(o2.detail![0].valueString).toBe('withheld (labels-not-covered)');
    // an auditor searching the withheld resource finds the event
    expect(
      entityReferences({
        ids: ['Observation/o1'],
        consentDecisions: [
          { reference: 'Observation/o2/_history/3', shown: 'withheld', code: 'denied', labels: [] },
        ],
      }),
    ).toEqual(['Observation/o1', 'Observation/o2']);
  });

  it('builds an R4 rest AuditEvent: subtype, action, agent = client + organization, entities, outcome', () => {
    const event = buildAuditEvent({
      actor,
      subtype: 'read',
      resourceType: 'Patient',
      ids: ['p1'],
      outcome: 0,
      at,
      id: '00000000-0000-4000-8000-000000000001',
    });
    expect(event).toMatchObject({
      resourceType: 'AuditEvent',
      id: '00000000-0000-4000-8000-000000000001',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
      action: 'R',
      recorded: '2026-01-02T03:04:05.678Z',
      outcome: '0',
      source: { observer: { display: 'CareRelay fhir-api' } },
    });
    expect(event.agent).toHaveLength(2);
    expect(event.agent[0].who).toEqual({
      identifier: { system: CLIENT_ID_SYSTEM, value: 'crc_1' },
      display: 'ehr',
    });
    expect(event.agent[0].requestor).toBe(true);
    expect(event.agent[1].who).toEqual({ reference: 'Organization/hosp-1' });
    expect(event.entity).toHaveLength(1);
    expect(event.entity![0].what).toEqual({ reference: 'Patient/p1' });
  });

  it('records a failed read with outcome 4 and its reason', () => {
    const event = buildAuditEvent({
      actor,
      subtype: 'vread',
      resourceType: 'Task',
      ids: ['Task/t1/_history/3'],
      outcome: 4,
      outcomeDesc: 'not found',
      at,
    });
    expect(event.outcome).toBe('4');
    expect(event.outcomeDesc).toBe('not found');
    expect(event.entity![0].what).toEqual({ reference: 'Task/t1/_history/3' });
    expect(entityReferences({ ids: ['Task/t1/_history/3'] })).toEqual(['Task/t1']);
  });

  it('records a search with its query (base64) and the resources it returned', () => {
    const event = buildAuditEvent({
      actor,
      subtype: 'search-type',
      resourceType: 'Task',
      ids: ['t1', 'ServiceRequest/s1'],
      query: 'status=requested&_include=Task:focus',
      outcome: 0,
      at,
    });
    expect(event.action).toBe('E');
    const query = event.entity!.find((e) => e.query);
    expect(Buffer.from(query!.query!, 'base64').toString()).toBe(
      'status=requested&_include=Task:focus',
    );
    expect(query!.name).toBeUndefined(); // sev-1: name or query, not both
    expect(event.entity!.filter((e) => e.what).map((e) => e.what!.reference)).toEqual([
      'Task/t1',
      'ServiceRequest/s1',
    ]);
  });

  it('skips ids that are not FHIR ids, maps statuses and actions', () => {
    expect(entityReferences({ ids: ['bad id', '../x', 'ok'], resourceType: 'Task' })).toEqual([
      'Task/ok',
    ]);
    expect([200, 201, 304, 400, 403, 404, 412, 500, 503].map(outcomeOfStatus)).toEqual([
      0, 0, 0, 4, 4, 4, 4, 8, 8,
    ]);
    expect([
      actionOf('create'),
      actionOf('update'),
      actionOf('delete'),
      actionOf('history-type'),
    ]).toEqual(['C', 'U', 'D', 'R']);
  });
});

describe('audit search parameters', () => {
  it('reads dates at every precision as [start, end)', () => {
    expect(dateRange('2026')).toEqual({
      start: new Date('2026-01-01T00:00:00Z'),
      end: new Date('2027-01-01T00:00:00Z'),
    });
    expect(dateRange('2026-12')).toEqual({
      start: new Date('2026-12-01T00:00:00Z'),
      end: new Date('2027-01-01T00:00:00Z'),
    });
    expect(dateRange('2026-02-28').end).toEqual(new Date('2026-03-01T00:00:00Z'));
    expect(dateRange('2026-02-28T10:00+02:00')).toEqual({
      start: new Date('2026-02-28T08:00:00Z'),
      end: new Date('2026-02-28T08:01:00Z'),
    });
    expect(
      dateRange('2026-02-28T10:00:05.5Z').end.getTime() -
        dateRange('2026-02-28T10:00:05.5Z').start.getTime(),
    ).toBe(1);
    expect(() => dateRange('yesterday')).toThrow();
    expect(() => dateRange('2026-13')).toThrow();
  });

  it('parses agent, entity, date, paging, and refuses unknown parameters', () => {
    const q = parseAuditQuery(
      new URLSearchParams(
        'agent=Organization/h1,crc_9&entity=Task/1&date=ge2026-01-01&date=lt2026-02&_count=500&_sort=date',
      ),
    );
    expect(q.agents).toEqual([['Organization/h1', 'crc_9']]);
    expect(q.entities).toEqual([['Task/1']]);
    expect(q.dates.map((d) => d.prefix)).toEqual(['ge', 'lt']);
    expect(q.count).toBe(200);
    expect(q.ascending).toBe(true);
    expect(() => parseAuditQuery(new URLSearchParams('patient=1'))).toThrow(
      /Unknown or unsupported/,
    );
    expect(() => parseAuditQuery(new URLSearchParams('_count=-1'))).toThrow();
    expect(() => parseAuditQuery(new URLSearchParams('agent='))).toThrow();
  });

  it('binds only the date bounds a prefix uses', () => {
    const q = parseAuditQuery(new URLSearchParams('date=2026-03&date=gt2026-01-01T10:00Z'));
    const { sql, params } = auditWhere(q);
    expect(sql).toBe(
      '(recorded >= $1::timestamptz AND recorded < $2::timestamptz) AND recorded >= $3::timestamptz',
    );
    expect(params).toEqual([
      '2026-03-01T00:00:00.000Z',
      '2026-04-01T00:00:00.000Z',
      '2026-01-01T10:01:00.000Z',
    ]);
  });

  it('turns the query into parameterized SQL', () => {
    const { sql, params } = auditWhere(
      parseAuditQuery(
        new URLSearchParams('agent=Organization/h1,crc_9&entity=Task/1&date=ge2026-01-01'),
      ),
    );
    expect(sql).toBe(
      '(organization_id = ANY($1::text[]) OR client_id = ANY($2::text[])) AND entity_refs && $3::text[] AND recorded >= $4::timestamptz',
    );
    expect(params).toEqual([['h1'], ['crc_9'], ['Task/1'], '2026-01-01T00:00:00.000Z']);
  });
});

describe('AuditEvent of a trusted web app acting for a person', () => {
  const actor = {
    clientId: 'crc_web',
    organizationId: 'org-0003',
    role: 'cbo' as const,
    scopes: ['system/*.cruds'],
  };

  it('names the person as a requesting human user beside the client and its organization', () => {
    const event = buildAuditEvent({
      actor: { ...actor, onBehalfOf: 'cm.kenwood' },
      subtype: 'update',
      resourceType: 'Task',
      ids: ['t1'],
      outcome: 0,
    });
    const person = event.agent.find((a) => a.type?.coding?.[0]?.code === 'humanuser');
    expect(person?.who).toEqual({
      identifier: { system: 'urn:carerelay:web-user', value: 'cm.kenwood' },
      display: 'cm.kenwood',
    });
    expect(person?.requestor).toBe(true);
    expect(event.agent).toHaveLength(3);
  });

  it('names no person when the client acts for itself', () => {
    const event = buildAuditEvent({
      actor,
      subtype: 'read',
      resourceType: 'Task',
      ids: ['t1'],
      outcome: 0,
    });
    expect(event.agent).toHaveLength(2);
  });
});

describe('X-On-Behalf-Of', () => {
  const trusted = new OnBehalfOfClients(new Set(['crc_web']));

  it('is taken from a trusted web app only', () => {
    expect(onBehalfOfFor('cm.kenwood', 'crc_web', trusted)).toBe('cm.kenwood');
    expect(onBehalfOfFor(undefined, 'crc_other', trusted)).toBeUndefined();
  });

  it('is refused from any other client (403) and when malformed (400)', () => {
    expect(() => onBehalfOfFor('cm.kenwood', 'crc_other', trusted)).toThrow(
      expect.objectContaining({ status: 403 }),
    );
    expect(() => onBehalfOfFor('Robert"); DROP', 'crc_web', trusted)).toThrow(
      expect.objectContaining({ status: 400 }),
    );
    expect(() => onBehalfOfFor(['a', 'b'], 'crc_web', trusted)).toThrow(
      expect.objectContaining({ status: 400 }),
    );
  });
});
