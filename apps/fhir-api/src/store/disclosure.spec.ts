import type { Consent, Resource, Task } from '@medplum/fhirtypes';
import { type ConsentDecision, decisionsOf } from '@carerelay/consent';
import type { RequestActor } from '../request-actor';
import type { ConsentRuleRepository } from './consent-rule.repository';
import { Disclosure } from './disclosure.service';
import type { StoredResource } from './stored-resource.model';

const PART2 = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: '42CFRPart2' };
const cbo: RequestActor = { clientId: 'c', organizationId: 'cbo-a', role: 'cbo', scopes: [] };
const permit = (patient: string, extra: Partial<Consent['provision']> = {}): Consent => ({
  resourceType: 'Consent',
  id: `consent-${patient}`,
  status: 'active',
  scope: {},
  category: [],
  patient: { reference: `Patient/${patient}` },
  provision: {
    type: 'permit',
    actor: [
      {
        role: { coding: [{ code: 'IRCP' }] },
        reference: { reference: 'Organization/cbo-a' },
      },
    ],
    ...extra,
  },
});

/** consent_rules' reader, counting its queries. */
function consentsOf(consents: Consent[]) {
  const calls: string[][] = [];
  const repository = {
    decisionsOf: async (patientIds: readonly string[]) => {
      calls.push([...patientIds]);
      const byPatient = new Map<string, ConsentDecision[]>();
      for (const d of decisionsOf(consents))
        if (patientIds.includes(d.patientId))
          byPatient.set(d.patientId, [...(byPatient.get(d.patientId) ?? []), d]);
      return byPatient;
    },
  } as unknown as ConsentRuleRepository;
  return { repository, calls };
}

const stored = (resource: Resource, patientId: string | null): StoredResource => ({
  resourceType: resource.resourceType,
  id: resource.id!,
  versionId: 1,
  lastUpdated: '',
  deleted: false,
  resource,
  orgs: { requesterOrg: null, ownerOrg: 'cbo-a', otherOrgs: [] },
  patientId,
});
const observation = (id: string, patient: string, labels = [] as (typeof PART2)[]) =>
  stored(
    {
      resourceType: 'Observation',
      id,
      meta: { security: labels },
      status: 'final',
      code: {},
      subject: { reference: `Patient/${patient}` },
    } as Resource,
    patient,
  );

describe('Disclosure', () => {
  const at = new Date();

  it('reads the Consents of every patient of a page in one query, once per transaction', async () => {
    const { repository, calls } = consentsOf([permit('p1'), permit('p2')]);
    const disclosure = new Disclosure(repository, cbo, at);
    const page = ['p1', 'p2', 'p3'].flatMap((p) => [
      observation(`${p}-a`, p),
      observation(`${p}-b`, p),
    ]);
    const shown = await disclosure.discloseAll(page);
    expect(shown.map((s) => s.id)).toEqual(['p1-a', 'p1-b', 'p2-a', 'p2-b']);
    expect(calls).toEqual([['p1', 'p2', 'p3']]);
    await disclosure.disclose(observation('p1-c', 'p1'));
    await disclosure.readable(observation('p2-c', 'p2'));
    expect(calls).toHaveLength(1);
    expect(disclosure.records().map((r) => [r.reference, r.shown, r.code])).toContainEqual([
      'Observation/p3-a/_history/1',
      'withheld',
      'no-consent',
    ]);
  });

  it('withholds Part 2 data until a consent covers it, then adds NORDSCLCD', async () => {
    const notCovering = new Disclosure(consentsOf([permit('p1')]).repository, cbo, at);
    expect(await notCovering.readable(observation('o', 'p1', [PART2]))).toBeUndefined();
    const covering = new Disclosure(
      consentsOf([permit('p1', { securityLabel: [PART2] })]).repository,
      cbo,
      at,
    );
    const shown = await covering.disclose(observation('o', 'p1', [PART2]));
    expect(shown!.resource.meta!.security!.map((c) => c.code)).toEqual(['42CFRPart2', 'NORDSCLCD']);
  });

  it('redacts a Task it withholds, and drops it when matched on patient data', async () => {
    const disclosure = new Disclosure(consentsOf([]).repository, cbo, at);
    const task = stored(
      {
        resourceType: 'Task',
        id: 't',
        status: 'requested',
        intent: 'order',
        for: { reference: 'Patient/p1' },
      } as Task,
      'p1',
    );
    expect(await disclosure.readable(task)).toBe(task);
    expect(((await disclosure.disclose(task))!.resource as Task).businessStatus?.text).toBe(
      'awaiting consent',
    );
    expect(await disclosure.disclose(task, { matchedOn: [{ param: 'patient' }] })).toBeUndefined();
    // a redacted Task does not say what kind of data it hides
    const labelled = { ...task, resource: { ...task.resource, meta: { security: [PART2] } } };
    const shown = (await disclosure.disclose(labelled))!.resource;
    expect(shown.meta!.security!.map((c) => c.code)).toEqual(['REDACTED']);
  });

  it('counts a search total without the withheld groups', async () => {
    const disclosure = new Disclosure(consentsOf([permit('p1')]).repository, cbo, at);
    const total = await disclosure.shownCount(
      [
        { resourceType: 'Observation', patientId: 'p1', labels: [], count: 3 },
        { resourceType: 'Observation', patientId: 'p1', labels: ['42CFRPart2'], count: 2 },
        { resourceType: 'Task', patientId: 'p2', labels: [], count: 1 },
        { resourceType: 'Organization', patientId: null, labels: [], count: 4 },
      ],
      false,
    );
    expect(total).toBe(8);
  });

  it('leaves every other role alone', async () => {
    const { repository, calls } = consentsOf([]);
    const platform = new Disclosure(repository, { ...cbo, role: 'platform' }, at);
    const o = observation('o', 'p1', [PART2]);
    expect(await platform.disclose(o)).toBe(o);
    expect(calls).toHaveLength(0);
  });
});
