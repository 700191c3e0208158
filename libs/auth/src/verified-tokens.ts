import type { RequestActor } from './actor';

interface Verified {
  actor: RequestActor;
  /** exp and iat of the token, epoch seconds. */
  exp: number;
  iat: number;
}

/**
 * Tokens this process has verified, until they expire: a client sends the same token with every
 * request for its lifetime (≤ 5 min), and checking its signature each time cost the FHIR API about
 * 5 % of its CPU. Only the signature and claims checks are skipped: expiry and revocation are
 * checked on every use. Bounded; the oldest entries go first.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, Verified>();

  constructor(private readonly max = 10_000) {}

  /** The verified token's actor, if it is held and not expired at `nowMs`. */
  get(token: string, nowMs: number): Verified | undefined {
    const hit = this.entries.get(token);
    if (!hit) return undefined;
    if (nowMs >= hit.exp * 1000) {
      this.entries.delete(token);
      return undefined;
    }
    return hit;
  }

  set(token: string, verified: Verified): void {
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, verified);
  }

  get size(): number {
    return this.entries.size;
  }
}
