import type { Coding } from '@medplum/fhirtypes';

/** v3 ActCode policy code for 42 CFR Part 2 (substance use disorder records). */
export const PART2_LABEL = '42CFRPart2';

export const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/**
 * v3 ActCode obligation "no redisclosure without consent directive": what 42 CFR §2.32 asks to
 * accompany each disclosure of Part 2 data (the DS4P IG's obligation label for it).
 */
export const NO_REDISCLOSURE: Readonly<Coding> = Object.freeze({
  system: ACT_CODE_SYSTEM,
  code: 'NORDSCLCD',
  display: 'no redisclosure without consent directive',
});

/**
 * Labels whose data a permit covers only when it lists them (meta.security or
 * provision.securityLabel): disclosure of that data needs a consent that says so. 42 CFR Part 2,
 * the v3 sensitivity codes DS4P uses for specially protected categories (ETH substance use, PSY
 * psychiatry, HIV, STD, SDV sexual and domestic violence, SEX sexuality and reproductive health)
 * and the confidentiality codes above normal (R restricted, V very restricted). Other labels (N,
 * M, obligations, REDACTED…) say nothing about who may receive the data.
 */
export const LABELS_NEEDING_EXPLICIT_CONSENT: ReadonlySet<string> = new Set([
  PART2_LABEL,
  'ETH',
  'PSY',
  'HIV',
  'STD',
  'SDV',
  'SEX',
  'R',
  'V',
]);

const LABEL_CODE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const isLabelCode = (value: string): boolean => LABEL_CODE.test(value);

/** Label codes of a list of security Codings, deduplicated and sorted; codings without a code are dropped. */
export function labelCodes(codings: readonly Coding[] | undefined): string[] {
  const codes = new Set<string>();
  for (const coding of codings ?? []) {
    if (typeof coding?.code === 'string' && isLabelCode(coding.code)) codes.add(coding.code);
  }
  return [...codes].sort();
}

export const isPart2 = (labels: readonly string[]): boolean => labels.includes(PART2_LABEL);

/**
 * The security labels a disclosed resource carries: its own, plus the prohibition on redisclosure
 * when it is 42 CFR Part 2 data (once, whatever the resource already had).
 */
export function labelsOnDisclosure(security: readonly Coding[] | undefined): Coding[] {
  const labels = [...(security ?? [])];
  if (!isPart2(labelCodes(labels))) return labels;
  const has = labels.some(
    (c) => c.code === NO_REDISCLOSURE.code && (c.system ?? ACT_CODE_SYSTEM) === ACT_CODE_SYSTEM,
  );
  return has ? labels : [...labels, { ...NO_REDISCLOSURE }];
}
