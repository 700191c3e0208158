import { equity, ReferenceGroupError, summarize, type ReferralFact } from './measures';
import { periodOf } from './dimensions';

const T0 = new Date('2026-03-02T00:00:00Z');
const at = (hours: number) => new Date(T0.getTime() + hours * 3_600_000);

function fact(id: string, more: Partial<ReferralFact> = {}): ReferralFact {
  return {
    referralId: id,
    requestedAt: T0,
    routedAt: at(0.1),
    acceptedAt: null,
    completedAt: null,
    terminalState: null,
    terminalAt: null,
    currentState: 'routed',
    attempts: 1,
    reroutes: 0,
    awaitedConsent: false,
    breaches: 0,
    cbo: 'cbo-a',
    category: 'food-insecurity',
    requester: 'hosp-1',
    race: null,
    ethnicity: null,
    language: 'en',
    zip: '60623',
    payer: '2',
    ageBand: '35-49',
    sex: 'female',
    ...more,
  };
}

describe('summary', () => {
  // 12 referrals: 6 completed at hours 1..6 (accepted at 0.5, 1, …, 3), 2 cancelled at hour 2,
  // 4 still open at hour 100.
  const facts = [
    ...[1, 2, 3, 4, 5, 6].map((h) =>
      fact(`c${h}`, {
        acceptedAt: at(h / 2),
        completedAt: at(h),
        terminalState: 'completed',
        terminalAt: at(h),
        currentState: 'completed',
        attempts: h === 1 ? 2 : h === 2 ? 3 : 1,
        reroutes: h === 1 ? 1 : h === 2 ? 2 : 0,
        breaches: h === 2 ? 1 : 0,
      }),
    ),
    ...[1, 2].map((i) =>
      fact(`x${i}`, { terminalState: 'cancelled', terminalAt: at(2), currentState: 'cancelled' }),
    ),
    fact('o1', {
      currentState: 'awaiting-consent',
      awaitedConsent: true,
      routedAt: null,
      attempts: 0,
    }),
    fact('o2'),
    fact('o3'),
    fact('o4'),
  ];
  const rejections = [
    { referralId: 'c1', attempt: 1, reasonCode: 'no-capacity' },
    { referralId: 'c1', attempt: 1, reasonCode: 'no-capacity' }, // published twice
    { referralId: 'c2', attempt: 1, reasonCode: 'no-response' },
    { referralId: 'c2', attempt: 2, reasonCode: 'not-eligible' },
  ];

  it('counts, rates and censored times computed by hand', () => {
    const s = summarize(facts, rejections, at(100));
    expect(s).toMatchObject({
      suppressed: false,
      referrals: 12,
      routed: 11,
      accepted: 6,
      closed: 6,
      closureRate: 0.5,
      awaitingConsent: 1,
      everAwaitedConsent: 1,
      reroutes: 3,
      referralsRerouted: 2,
      deadlineBreaches: 1,
      referralsBreached: 1,
      routingAttempts: 2 + 3 + 4 * 1 + 2 * 1 + 0 + 3 * 1, // 14
    });
    // Three reasons, one ended attempt each (c1's published twice counts once): every count is
    // under 11, so none is shown.
    expect(s.rejections).toEqual([
      { reason: 'no-capacity', network: false, suppressed: true, count: null, rate: null },
      { reason: 'no-response', network: true, suppressed: true, count: null, rate: null },
      { reason: 'not-eligible', network: false, suppressed: true, count: null, rate: null },
    ]);
    // Accept: 0.5, 1, …, 3 → median the 3rd of 6 = 1.5, p90 the 6th = 3.
    expect(s.timeToAccept).toEqual({ accepted: 6, medianHours: 1.5, p90Hours: 3 });
    // KM: S(1) = 11/12, S(2) = 10/12 (then 2 cancelled censored: 8 at risk), S(3) = 10/12·7/8,
    // S(4) = ·6/7, S(5) = ·5/6 = 0.52, S(6) = ·4/5 = 0.42 ≤ 0.5 → median 6 h (the closed-only
    // median would be 3 h). 90% never close here: p90 not reached.
    expect(s.timeToClose).toEqual({ closed: 6, censored: 6, medianHours: 6, p90Hours: null });
  });

  it('shows rejection counts of 11 or more as a share of routing attempts', () => {
    const many = Array.from({ length: 12 }, (_, i) => ({
      referralId: `c${(i % 6) + 1}`,
      attempt: i,
      reasonCode: 'no-capacity',
    }));
    const s = summarize(facts, many, at(100));
    expect(s.rejections).toEqual([
      {
        reason: 'no-capacity',
        network: false,
        suppressed: false,
        count: 12,
        rate: Number((12 / 14).toFixed(6)),
      },
    ]);
  });

  it('a cohort under 11 referrals shows nothing', () => {
    expect(summarize(facts.slice(0, 10), [], at(100))).toEqual({
      suppressed: true,
      referrals: null,
    });
  });
});

describe('equity table', () => {
  const group = (language: string, n: number, closed: number) =>
    Array.from({ length: n }, (_, i) =>
      fact(`${language}-${i}`, {
        language,
        completedAt: i < closed ? at(10 + i) : null,
        currentState: i < closed ? 'completed' : 'routed',
      }),
    );
  const facts = [
    ...group('en', 40, 30),
    ...group('es', 20, 6),
    ...group('vi', 15, 10),
    ...group('pl', 4, 1),
  ];

  it('compares with the largest group, hides small groups and their complement, flags the gap', () => {
    const table = equity(facts, 'language', at(1000));
    expect(table.reference).toBe('en');
    const row = (g: string) => table.rows.find((r) => r.group === g)!;
    expect(row('pl')).toMatchObject({
      suppressed: true,
      suppression: 'small-cell',
      closureRate: null,
    });
    // pl alone hidden would be total − others: the smallest other group (vi, 15) goes too.
    expect(row('vi')).toMatchObject({
      suppressed: true,
      suppression: 'complementary',
      referrals: null,
    });
    expect(row('en')).toMatchObject({
      reference: true,
      referrals: 40,
      closed: 30,
      closureRate: 0.75,
      difference: null,
    });
    // es: 6/20 − 30/40 = −0.45; Newcombe from Wilson(6, 20) and Wilson(30, 40): [−0.6386, −0.1835].
    const es = row('es');
    expect(es.difference).toBeCloseTo(-0.45, 6);
    expect(es.ratio).toBeCloseTo(0.4, 6);
    expect(es.ci95!.lower).toBeCloseTo(-0.6386, 4);
    expect(es.ci95!.upper).toBeCloseTo(-0.1835, 4);
    expect(es.intervalExcludesZero).toBe(true);
    // One comparison shown: its BH-adjusted p equals its p.
    expect(es.qValue).toBe(es.pValue);
    expect(es.flagged).toBe(true);
    // en median: closures at 10..39 h, 30 of 40; S drops ≤ 0.5 at the 20th closure → 29 h.
    expect(row('en').medianHoursToClose).toBe(29);
  });

  it('a chosen reference must exist and be shown', () => {
    expect(equity(facts, 'language', at(1000), { reference: 'es' }).reference).toBe('es');
    expect(() => equity(facts, 'language', at(1000), { reference: 'pl' })).toThrow(
      ReferenceGroupError,
    );
    expect(() => equity(facts, 'language', at(1000), { reference: 'xx' })).toThrow(
      ReferenceGroupError,
    );
  });
});

describe('periods', () => {
  it('day, ISO week (Monday) and month in UTC', () => {
    const sunday = new Date('2026-03-08T23:30:00Z');
    expect(periodOf(sunday, 'day')).toBe('2026-03-08');
    expect(periodOf(sunday, 'week')).toBe('2026-03-02');
    expect(periodOf(sunday, 'month')).toBe('2026-03');
  });
});
