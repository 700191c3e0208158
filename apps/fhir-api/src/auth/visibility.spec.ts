import { canSee, InvolvedOrganizations, visibilityPredicate } from './visibility';
import type { RequestActor } from './request-actor';

const actor = (role: RequestActor['role'], organizationId = 'org-a'): RequestActor => ({
  clientId: `client-${role}`,
  organizationId,
  role,
  scopes: ['system/*.rs'],
});

const referral: InvolvedOrganizations = {
  requesterOrg: 'hospital-1',
  ownerOrg: 'cbo-1',
  otherOrgs: ['hospital-1', 'cbo-1'],
};

describe('canSee', () => {
  it('an EHR sees what it requested, not what another EHR requested', () => {
    expect(canSee(actor('ehr', 'hospital-1'), referral)).toBe(true);
    expect(canSee(actor('ehr', 'hospital-2'), referral)).toBe(false);
  });

  it('a CBO sees what it owns or what is addressed to it, not other CBOs’ referrals', () => {
    expect(canSee(actor('cbo', 'cbo-1'), { requesterOrg: 'h', ownerOrg: 'cbo-1' })).toBe(true);
    expect(canSee(actor('cbo', 'cbo-1'), { requesterOrg: 'h', otherOrgs: ['cbo-1'] })).toBe(true);
    expect(canSee(actor('cbo', 'cbo-2'), referral)).toBe(false);
  });

  it('a CBO that happens to be the requester of nothing does not see by requester', () => {
    expect(canSee(actor('cbo', 'x'), { requesterOrg: 'x', ownerOrg: 'y', otherOrgs: ['y'] })).toBe(
      false,
    );
  });

  it('an EHR sees only what it sent, not what merely names or is owned by its organization', () => {
    expect(canSee(actor('ehr', 'x'), { requesterOrg: 'y', ownerOrg: 'x', otherOrgs: [] })).toBe(
      false,
    );
    expect(canSee(actor('ehr', 'x'), { requesterOrg: 'y', otherOrgs: ['x'] })).toBe(false);
  });

  it('coordinators and the platform see everything, even unattributed resources', () => {
    for (const role of ['coordinator', 'platform'] as const) {
      expect(canSee(actor(role, 'anything'), referral)).toBe(true);
      expect(canSee(actor(role, 'anything'), {})).toBe(true);
    }
  });

  it('nobody else sees unattributed resources; an empty organization sees nothing', () => {
    expect(canSee(actor('ehr'), {})).toBe(false);
    expect(canSee(actor('cbo'), { requesterOrg: null, ownerOrg: null, otherOrgs: null })).toBe(
      false,
    );
    expect(canSee(actor('ehr', ''), { requesterOrg: '', otherOrgs: [''] })).toBe(false);
    expect(canSee(actor('cbo', ''), { ownerOrg: '' })).toBe(false);
  });
});

describe('visibilityPredicate', () => {
  it('ehr: requester_org', () => {
    expect(visibilityPredicate(actor('ehr', 'h1'))).toEqual({
      sql: '("requester_org" = $1)',
      params: ['h1'],
      namedSql: '("requester_org" = :visibilityOrg)',
      namedParams: { visibilityOrg: 'h1' },
    });
  });

  it('numbers its parameter with a collector (the store’s SqlParams)', () => {
    const values: unknown[] = ['earlier'];
    const collector = { add: (v: unknown) => `$${values.push(v)}` };
    const p = visibilityPredicate(actor('cbo', 'c9'), { alias: 'r', params: collector });
    expect(p.sql).toBe('(r."owner_org" = $2 OR $2 = ANY(r."other_orgs"))');
    expect(p.params).toEqual([]);
    expect(values).toEqual(['earlier', 'c9']);
  });

  it('cbo: owner_org or other_orgs, with alias and parameter offset', () => {
    const p = visibilityPredicate(actor('cbo', 'c1'), { alias: 'r', firstParam: 4 });
    expect(p.sql).toBe('(r."owner_org" = $4 OR $4 = ANY(r."other_orgs"))');
    expect(p.params).toEqual(['c1']);
  });

  it('coordinator and platform: no condition', () => {
    expect(visibilityPredicate(actor('coordinator')).sql).toBe('(TRUE)');
    expect(visibilityPredicate(actor('platform')).params).toEqual([]);
  });

  it('an actor without organization or with an unknown role matches nothing', () => {
    expect(visibilityPredicate(actor('ehr', '')).sql).toBe('(FALSE)');
    expect(visibilityPredicate({ ...actor('ehr'), role: 'x' as never }).sql).toBe('(FALSE)');
  });

  it('adapts to other column names and refuses unsafe identifiers', () => {
    const p = visibilityPredicate(actor('cbo', 'c'), {
      columns: { ownerOrg: 'owner', otherOrgs: 'involved' },
    });
    expect(p.sql).toBe('("owner" = $1 OR $1 = ANY("involved"))');
    expect(() => visibilityPredicate(actor('cbo'), { alias: 'r; DROP TABLE x' })).toThrow();
    expect(() => visibilityPredicate(actor('ehr'), { columns: { requesterOrg: 'a"b' } })).toThrow();
    expect(() => visibilityPredicate(actor('ehr'), { firstParam: 0 })).toThrow();
  });

  it('never puts the organization id into the SQL text', () => {
    const p = visibilityPredicate(actor('ehr', "x' OR 1=1 --"));
    expect(p.sql).not.toContain('OR 1=1');
    expect(p.params).toEqual(["x' OR 1=1 --"]);
  });
});
