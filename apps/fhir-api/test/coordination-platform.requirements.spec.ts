import {
  conformanceReport,
  IG_SHALL_PROFILES,
  REQUIREMENTS,
  verdictOf,
} from './coordination-platform.requirements';

describe('Coordination Platform requirements', () => {
  const allPassed = new Map<string, boolean>(
    REQUIREMENTS.flatMap((r) => r.claims ?? []).map((claim) => [claim, true] as const),
  );

  it('gives each requirement a unique id and either claims checked here or a test elsewhere', () => {
    expect(new Set(REQUIREMENTS.map((r) => r.id)).size).toBe(REQUIREMENTS.length);
    for (const r of REQUIREMENTS)
      expect(Boolean(r.claims?.length) !== Boolean(r.provenBy)).toBe(true);
    expect(IG_SHALL_PROFILES.Task).toEqual([
      'SDOHCC-TaskForPatient',
      'SDOHCC-TaskForReferralManagement',
    ]);
  });

  it('is met only when every claim passed, and not met when one failed or did not run', () => {
    const task = REQUIREMENTS.find((r) => r.id === 'cp-task-include')!;
    expect(verdictOf(task, allPassed)).toBe('met');
    expect(verdictOf(task, new Map([['Task _include=Task:focus', true]]))).toBe('not met');
    const failed = new Map(allPassed).set('Task _include=Task:output', false);
    expect(verdictOf(task, failed)).toBe('not met');
    expect(
      verdictOf(
        REQUIREMENTS.find((r) => r.id === 'priv-1')!,
        failed,
      ),
    ).toBe('elsewhere');
  });

  it('counts a failed SHALL and says why', () => {
    const failed = new Map(allPassed).set('Task _include=Task:output', false);
    const report = conformanceReport(
      failed,
      ['Task _include=Task:output: HTTP 400, expected 200'],
      '2026-01-01',
    );
    expect(report).toContain('- Not met: 1');
    expect(report).toContain('- SHALL not met: 1');
    expect(report).toContain('| cp-task-include | SHALL |');
    expect(report).toContain('`Task _include=Task:output`: HTTP 400, expected 200');
    expect(conformanceReport(allPassed, [], '2026-01-01')).toContain('- SHALL not met: 0');
  });
});
