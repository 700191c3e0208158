import { ConsentRow, coverageFrom, coversAnyone, coversOrganization } from './consent-view';

const row = (
  organization_id: string | null,
  state: ConsentRow['state'],
  minute: number,
  period_end: string | null = null,
): ConsentRow => ({
  organization_id,
  state,
  period_end,
  occurred_at: new Date(Date.UTC(2026, 10, 23, 10, minute)).toISOString(),
});
const now = new Date(Date.UTC(2026, 10, 23, 12, 0));

describe('consent coverage from announced grants and revocations', () => {
  it('covers nobody without a grant', () => {
    expect(coversAnyone(coverageFrom([], now))).toBe(false);
  });

  it('covers every organization with a network-wide grant', () => {
    const coverage = coverageFrom([row(null, 'granted', 1)], now);
    expect(coversOrganization(coverage, 'cbo-a')).toBe(true);
  });

  it('covers only the named organization with a named grant', () => {
    const coverage = coverageFrom([row('cbo-a', 'granted', 1)], now);
    expect(coversOrganization(coverage, 'cbo-a')).toBe(true);
    expect(coversOrganization(coverage, 'cbo-b')).toBe(false);
  });

  it('lets a later deny block one organization despite a network-wide grant', () => {
    const coverage = coverageFrom([row(null, 'granted', 1), row('cbo-a', 'revoked', 2)], now);
    expect(coversOrganization(coverage, 'cbo-a')).toBe(false);
    expect(coversOrganization(coverage, 'cbo-b')).toBe(true);
  });

  it('lifts the block when a network-wide grant is announced after it', () => {
    const coverage = coverageFrom([row(null, 'granted', 3), row('cbo-a', 'revoked', 2)], now);
    expect(coversOrganization(coverage, 'cbo-a')).toBe(true);
  });

  it('drops a grant whose period ended, and a revoked network-wide grant', () => {
    expect(coversAnyone(coverageFrom([row(null, 'granted', 1, '2026-11-23T11:00:00Z')], now))).toBe(
      false,
    );
    expect(coversAnyone(coverageFrom([row(null, 'revoked', 1)], now))).toBe(false);
  });
});
