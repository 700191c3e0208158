import { ConsentDecision, isInForce } from './consent-decision';

/** Stands for "the whole network" where a key cannot be null. */
export const WHOLE_NETWORK = '*';

/**
 * One announced fact: a permit in force for an organization (or the whole network), or a deny in
 * force that stops disclosure to one (or to everyone). These are what consent.granted /
 * consent.revoked announce.
 */
export interface Grant {
  kind: 'permit' | 'deny';
  consentId: string;
  patientId: string;
  /** An Organization id or WHOLE_NETWORK. */
  organizationKey: string;
  periodStart: string | null;
  periodEnd: string | null;
  securityLabels: string[];
}

export const grantKey = (g: Pick<Grant, 'kind' | 'consentId' | 'organizationKey'>): string =>
  `${g.kind}|${g.consentId}|${g.organizationKey}`;

const keysOf = (decision: ConsentDecision): string[] =>
  decision.organizationIds === null ? [WHOLE_NETWORK] : decision.organizationIds;

const toGrant = (decision: ConsentDecision, organizationKey: string): Grant => ({
  kind: decision.provision,
  consentId: decision.consentId,
  patientId: decision.patientId,
  organizationKey,
  periodStart: decision.periodStart,
  periodEnd: decision.periodEnd,
  securityLabels: decision.securityLabels,
});

/**
 * What is in force for one patient at `at`, one Grant per (consent, recipient):
 * - denies in force that stop all disclosure to their recipients (no label or purpose scope);
 * - permits in force, fully interpreted, per recipient, unless such a deny covers that recipient
 *   (a deny of the whole network covers every recipient; a deny of organization X covers X only).
 * Partial denies (scoped by label or purpose) are not announced; the decision endpoint applies
 * them.
 */
export function grantsInForce(decisions: readonly ConsentDecision[], at: Date): Grant[] {
  const inForce = decisions.filter((d) => isInForce(d, at));
  const denies = inForce.filter(
    (d) => d.provision === 'deny' && d.provisionLabels.length === 0 && d.purposes.length === 0,
  );
  const deniedKeys = new Set(denies.flatMap(keysOf));
  const grants: Grant[] = denies.flatMap((d) => keysOf(d).map((key) => toGrant(d, key)));
  for (const permit of inForce) {
    if (permit.provision !== 'permit' || permit.problems.length > 0) continue;
    if (deniedKeys.has(WHOLE_NETWORK)) continue;
    for (const key of keysOf(permit)) {
      if (!deniedKeys.has(key)) grants.push(toGrant(permit, key));
    }
  }
  return grants.sort((a, b) => grantKey(a).localeCompare(grantKey(b)));
}

export type ConsentEventKind = 'granted' | 'revoked' | 'expired';

export interface GrantChange {
  kind: ConsentEventKind;
  grant: Grant;
  /** When it happened: now, or the end of the period for an expiry. */
  occurredAt: string;
}

/**
 * The events that move the announced grants to the grants in force now:
 * - a permit newly in force → granted;
 * - a permit no longer in force → expired when its announced period has ended by `now` (it ran
 *   out), else revoked (inactive, entered-in-error, turned into a deny, deleted, period cut short,
 *   overridden by a deny);
 * - a deny newly in force → revoked for its recipients.
 * A deny that stops being in force announces nothing itself; the permits it held back come back
 * as granted, and a network-wide permit still in force is announced (granted) again, since the
 * organization the deny named is covered by it once more.
 */
export function grantChanges(
  announced: readonly Grant[],
  current: readonly Grant[],
  now: Date,
): GrantChange[] {
  const before = new Map(announced.map((g) => [grantKey(g), g]));
  const after = new Map(current.map((g) => [grantKey(g), g]));
  const at = now.toISOString();
  const changes: GrantChange[] = [];
  for (const [key, grant] of before) {
    if (after.has(key) || grant.kind !== 'permit') continue;
    const ranOut = grant.periodEnd !== null && Date.parse(grant.periodEnd) <= now.getTime();
    changes.push(
      ranOut
        ? { kind: 'expired', grant, occurredAt: grant.periodEnd! }
        : { kind: 'revoked', grant, occurredAt: at },
    );
  }
  for (const [key, grant] of after) {
    if (before.has(key)) continue;
    changes.push({ kind: grant.kind === 'permit' ? 'granted' : 'revoked', grant, occurredAt: at });
  }
  // A deny of one organization lifted while a network-wide permit stays in force: nothing else
  // would say that the organization is covered again, so the permit is announced once more, as
  // it is (network-wide; consumers keyed by consent id keep a correct row).
  const lifted = [...before.entries()].some(
    ([key, grant]) =>
      !after.has(key) && grant.kind === 'deny' && grant.organizationKey !== WHOLE_NETWORK,
  );
  if (lifted) {
    for (const [key, permit] of after) {
      if (permit.kind !== 'permit' || permit.organizationKey !== WHOLE_NETWORK) continue;
      if (!before.has(key)) continue; // newly granted above already
      changes.push({ kind: 'granted', grant: permit, occurredAt: at });
    }
  }
  return changes;
}

/** Instants after `now` at which some decision starts or stops being in force. */
export function boundariesAfter(decisions: readonly ConsentDecision[], now: Date): Date[] {
  const t = now.getTime();
  const instants = new Set<number>();
  for (const d of decisions) {
    for (const value of [d.periodStart, d.periodEnd]) {
      if (value !== null && Date.parse(value) > t) instants.add(Date.parse(value));
    }
  }
  return [...instants].sort((a, b) => a - b).map((ms) => new Date(ms));
}
