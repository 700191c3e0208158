/**
 * Why an attempt ended, coded: CBOs and the network write free text (Task.statusReason), the
 * measures need a short vocabulary. Reasons of the CBO or the patient are kept apart from
 * failures of the network itself (no response before the deadline, nobody left to try).
 */
export const REASON_CODES = [
  'no-capacity',
  'not-eligible',
  'out-of-area',
  'unable-to-contact',
  'declined-by-patient',
  'no-response',
  'no-match',
  'consent-revoked',
  'other',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** Reasons that are the network's failures, not the CBO's or the patient's. */
export const NETWORK_REASONS: ReadonlySet<ReasonCode> = new Set(['no-response', 'no-match']);

const RULES: Array<[RegExp, ReasonCode]> = [
  [/capacity|waitlist|wait list|full\b/i, 'no-capacity'],
  [/eligib/i, 'not-eligible'],
  [/service area|out of area|outside .*area/i, 'out-of-area'],
  [/unable to (contact|reach)|could not (contact|reach)|no contact/i, 'unable-to-contact'],
  [/patient (declined|refused)|declined by the patient|client declined/i, 'declined-by-patient'],
  [/acceptance deadline|did not respond|no response/i, 'no-response'],
  [/no matching|no cbo accepted|every matching cbo/i, 'no-match'],
  [/revoked consent|consent/i, 'consent-revoked'],
];

export function reasonCodeOf(text: string | undefined | null): ReasonCode | null {
  if (!text) return null;
  for (const [pattern, code] of RULES) if (pattern.test(text)) return code;
  return 'other';
}
