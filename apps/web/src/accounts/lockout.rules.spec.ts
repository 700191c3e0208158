import { afterFailure, afterSuccess, isLocked } from './lockout.rules';

const policy = { threshold: 3, lockMinutes: 15 };
const now = new Date('2026-01-01T10:00:00Z');

describe('lockout rules', () => {
  it('locks at the threshold, not before', () => {
    let state = afterSuccess();
    state = afterFailure(state, policy, now);
    state = afterFailure(state, policy, now);
    expect(isLocked(state, now)).toBe(false);
    state = afterFailure(state, policy, now);
    expect(isLocked(state, now)).toBe(true);
    expect(state.lockedUntil?.toISOString()).toBe('2026-01-01T10:15:00.000Z');
  });

  it('unlocks when the lock ends, and the count starts again', () => {
    const locked = { failedAttempts: 3, lockedUntil: new Date('2026-01-01T10:15:00Z') };
    const later = new Date('2026-01-01T10:16:00Z');
    expect(isLocked(locked, later)).toBe(false);
    const next = afterFailure(locked, policy, later);
    expect(next.failedAttempts).toBe(1);
    expect(isLocked(next, later)).toBe(false);
  });
});
