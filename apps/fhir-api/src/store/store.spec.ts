import type { Resource } from '@medplum/fhirtypes';
import type { RequestActor } from '../request-actor';
import { dateCondition, filterCondition, keysetCondition, orderBy, sortKeys } from './search-sql';
import { SqlParams } from './sql';
import { involvedOrganizations, organizationsOf, visibilityFilter } from './visibility';
import { isRetryable } from './resource.store';
import { matchesOnPatientData, readableFilter } from './consent-access';

const actor = (role: RequestActor['role'], organizationId = 'org-1'): RequestActor => ({
  clientId: 'c',
  organizationId,
  role,
  scopes: [],
});
const BASE = 'http://localhost:8080/fhir';

describe('organization columns', () => {
  it('take the owner, a declared requester and every referenced Organization', () => {
    const task = {
      resourceType: 'Task',
      id: 't',
      requester: { reference: 'Organization/ehr-a' },
      owner: { reference: `${BASE}/Organization/cbo-a` },
      restriction: { recipient: [{ reference: 'Organization/payer' }] },
    } as unknown as Resource;
    const orgs = organizationsOf(task, { actor: actor('coordinator', 'coord') }, [BASE]);
    expect(orgs).toEqual({
      requesterOrg: 'ehr-a',
      ownerOrg: 'cbo-a',
      otherOrgs: ['cbo-a', 'ehr-a', 'payer'],
    });
    expect(involvedOrganizations(orgs)).toEqual(['cbo-a', 'ehr-a', 'payer']);
  });

  it('fall back to the creating organization and keep the first requester on updates', () => {
    const patient = { resourceType: 'Patient', id: 'p' } as Resource;
    const created = organizationsOf(patient, { actor: actor('ehr', 'ehr-a') }, [BASE]);
    expect(created.requesterOrg).toBe('ehr-a');
    const updated = organizationsOf(patient, { actor: actor('ehr', 'ehr-b'), previous: created }, [
      BASE,
    ]);
    expect(updated.requesterOrg).toBe('ehr-a');
  });

  it('ignore Organizations on other servers', () => {
    const sr = {
      resourceType: 'ServiceRequest',
      performer: [{ reference: 'https://elsewhere.example/fhir/Organization/x' }],
    } as unknown as Resource;
    expect(organizationsOf(sr, { actor: actor('ehr') }, [BASE]).ownerOrg).toBeNull();
  });
});

describe('visibilityFilter', () => {
  it('lets a coordinator see everything', () => {
    const p = new SqlParams();
    expect(visibilityFilter(actor('coordinator'), 'r', p)).toBe('TRUE');
    expect(p.values).toEqual([]);
  });

  it('limits an EHR to what its organization requested', () => {
    const p = new SqlParams();
    expect(visibilityFilter(actor('ehr', 'ehr-a'), 'r', p)).toBe('(r.requester_org = $1)');
    expect(p.values).toEqual(['ehr-a']);
  });

  it('limits a CBO to what it owns or is addressed to', () => {
    const p = new SqlParams();
    expect(visibilityFilter(actor('cbo', 'cbo-a'), 'x', p)).toBe(
      '(x.owner_org = $1 OR $1 = ANY(x.other_orgs))',
    );
  });
});

describe('searches on patient data', () => {
  it('are those on any Task parameter but the workflow elements a redacted Task shows', () => {
    const on = (...params: string[]) => matchesOnPatientData(params.map((param) => ({ param })));
    expect(on('owner', 'status', '_lastUpdated', 'code', 'focus', 'part-of')).toBe(false);
    expect(on()).toBe(false);
    for (const param of ['patient', 'subject', 'business-status', 'description', 'encounter'])
      expect({ param, sensitive: on('owner', param) }).toEqual({ param, sensitive: true });
  });

  it('include a chain unless every level goes to directory types, and every _has', () => {
    const token = { param: 'name', kind: 'string' };
    const chain = (targetTypes: string[], chained: object) => ({
      param: 'owner',
      kind: 'chain',
      targetTypes,
      chained: chained as never,
    });
    expect(matchesOnPatientData([chain(['Organization'], token)])).toBe(false);
    expect(
      matchesOnPatientData([
        chain(['Organization'], { ...chain(['Organization'], token), param: 'partof' }),
      ]),
    ).toBe(false);
    expect(
      matchesOnPatientData([chain(['Organization'], { ...chain(['Patient'], token), param: 'x' })]),
    ).toBe(true);
    expect(matchesOnPatientData([chain(['Organization'], { param: '_has', kind: 'has' })])).toBe(
      true,
    );
    expect(matchesOnPatientData([{ param: '_has', kind: 'has' }])).toBe(true);
  });

  it('drop the redacted-Task exception of the CBO read rule, and only for a CBO', () => {
    const plain = readableFilter(actor('cbo', 'cbo-a'), 'r', new SqlParams(), 's');
    const onPatient = readableFilter(actor('cbo', 'cbo-a'), 'r', new SqlParams(), 's', {
      matchedOnPatientData: true,
    });
    expect(plain).toContain("r.resource_type = 'Task' OR");
    expect(onPatient).not.toContain("r.resource_type = 'Task' OR");
    expect(onPatient).toContain('consent_rules');
    expect(
      readableFilter(actor('coordinator'), 'r', new SqlParams(), 's', {
        matchedOnPatientData: true,
      }),
    ).toBe('TRUE');
  });
});

describe('search SQL', () => {
  it('adds only the date bounds a prefix uses', () => {
    const value = { start: '2024-01-01T00:00:00.000Z', end: '2024-01-02T00:00:00.000Z' };
    for (const prefix of ['gt', 'lt', 'ge', 'le', 'sa', 'eb'] as const) {
      const p = new SqlParams();
      dateCondition({ ...value, prefix }, 'a', 'b', p);
      expect(p.values).toHaveLength(1);
    }
    const p = new SqlParams();
    expect(dateCondition({ ...value, prefix: 'eq' }, 'a', 'b', p)).toBe(
      '(a >= $1::timestamptz AND b <= $2::timestamptz)',
    );
  });

  it('searches _id on the resource row and other parameters in the index', () => {
    const p = new SqlParams();
    expect(
      filterCondition(
        { param: '_id', kind: 'token', not: false, values: [{ code: 'a' }, { code: 'b' }] },
        's',
        'r',
        p,
      ),
    ).toBe('r.id = ANY($1::text[])');
    expect(p.values).toEqual([['a', 'b']]);
    const q = new SqlParams();
    const sql = filterCondition(
      { param: 'status', kind: 'token', not: true, values: [{ system: null, code: 'x' }] },
      's',
      'r',
      q,
    );
    expect(sql).toMatch(
      /^NOT EXISTS \(SELECT 1 FROM "s"\.search_index si WHERE .* AND \(si\.system IS NULL AND si\.code = \$2\)\)$/,
    );
  });

  it('gives each level of a chain or _has its own aliases, readable at every level', () => {
    const p = new SqlParams();
    const sql = filterCondition(
      {
        param: 'focus',
        kind: 'chain',
        targetTypes: ['ServiceRequest'],
        chained: {
          param: '_has',
          kind: 'has',
          sourceType: 'Task',
          referenceParam: 'focus',
          filter: {
            param: 'patient',
            kind: 'chain',
            targetTypes: ['Patient'],
            chained: { param: 'identifier', kind: 'token', not: false, values: [{ code: 'x' }] },
          },
        },
      },
      's',
      'r',
      p,
      (alias) => `READABLE(${alias})`,
    );
    expect(sql).toContain('cr0.resource_type = r.resource_type');
    expect(sql).toContain("hr1.value_reference = ct0.resource_type || '/' || ct0.id");
    expect(sql).toContain('cr2.resource_type = hs1.resource_type');
    for (const alias of ['ct0', 'hs1', 'ct2']) expect(sql).toContain(`READABLE(${alias})`);
  });

  it('matches a composite tuple on one element', () => {
    const p = new SqlParams();
    const sql = filterCondition(
      {
        param: 'characteristic-value',
        kind: 'composite',
        values: [
          [
            { param: 'characteristic', kind: 'token', not: false, values: [{ code: 'a' }] },
            { param: 'value', kind: 'token', not: false, values: [{ code: 'b' }] },
          ],
        ],
      },
      's',
      'r',
      p,
    );
    expect(sql).toContain('cc1.composite_group = c0.composite_group');
    expect(sql).toContain('c0.component = 0');
    expect(sql).toContain('cc1.component = 1');
  });

  it('escapes LIKE wildcards in string searches', () => {
    const p = new SqlParams();
    filterCondition(
      {
        param: 'name',
        kind: 'string',
        match: 'contains',
        values: [{ value: '50%_', normalized: '50%_' }],
      },
      's',
      'r',
      p,
    );
    expect(p.values).toContain('%50\\%\\_%');
  });
});

describe('retries', () => {
  it('retry serialization failures, deadlocks and unique races only', () => {
    expect(isRetryable({ code: '40001' })).toBe(true);
    expect(isRetryable({ driverError: { code: '40P01' } })).toBe(true);
    expect(isRetryable({ code: '23505' })).toBe(true);
    expect(isRetryable({ code: '22P02' })).toBe(false);
    expect(isRetryable(new Error('x'))).toBe(false);
  });
});

describe('keyset paging SQL', () => {
  const keysOf = (sort: Parameters<typeof sortKeys>[0]) => {
    const p = new SqlParams();
    return { p, keys: sortKeys(sort, 's', 'r', p) };
  };

  it('orders by the sort keys then the id, NULLs last, and backwards for a previous page', () => {
    const { keys } = keysOf([{ param: 'name', descending: false, type: 'string' }]);
    expect(keys.map((k) => [k.sqlType, k.descending, k.nullable])).toEqual([
      ['text', false, true],
      ['text', false, false],
    ]);
    expect(orderBy(keys)).toMatch(/ASC NULLS LAST, r\.id ASC$/);
    expect(orderBy(keys, true)).toMatch(/DESC NULLS FIRST, r\.id DESC$/);
  });

  it('reads after a position row-wise, a row without the key after every row with one', () => {
    const { p, keys } = keysOf([{ param: '_lastUpdated', descending: true }]);
    const after = keysetCondition(keys, ['2026-01-01T00:00:00.000000Z', 'x'], 'after', p);
    expect(after).toBe(
      '((r.last_updated < $1::timestamptz) OR (r.last_updated = $1::timestamptz AND r.id < $2::text))',
    );
    const named = keysOf([{ param: 'name', descending: false, type: 'string' }]);
    const key = named.keys[0].expression;
    expect(keysetCondition(named.keys, [null, 'x'], 'after', named.p)).toBe(
      `((${key} IS NULL AND r.id > $2::text))`,
    );
    expect(keysetCondition(named.keys, [null, 'x'], 'before', named.p)).toBe(
      `((${key} IS NOT NULL) OR (${key} IS NULL AND r.id < $3::text))`,
    );
  });
});
