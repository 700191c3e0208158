/**
 * Lockout after repeated failed sign-ins: plain rules, the repository applies them atomically.
 * A locked account refuses even the right password until the lock ends; a success resets the
 * count.
 */
export interface LockoutPolicy {
  threshold: number;
  lockMinutes: number;
}

export interface LockState {
  failedAttempts: number;
  lockedUntil: Date | null;
}

export const isLocked = (state: LockState, now: Date): boolean =>
  state.lockedUntil !== null && state.lockedUntil.getTime() > now.getTime();

/** The state after one more failure. */
export function afterFailure(state: LockState, policy: LockoutPolicy, now: Date): LockState {
  // A lock that has run out starts a fresh count.
  const base =
    state.lockedUntil && state.lockedUntil.getTime() <= now.getTime() ? 0 : state.failedAttempts;
  const failedAttempts = base + 1;
  if (failedAttempts >= policy.threshold) {
    return {
      failedAttempts,
      lockedUntil: new Date(now.getTime() + policy.lockMinutes * 60_000),
    };
  }
  return { failedAttempts, lockedUntil: state.lockedUntil };
}

export const afterSuccess = (): LockState => ({ failedAttempts: 0, lockedUntil: null });
