import type { Coding } from '@medplum/fhirtypes';

/** v3 ActCode policy code for 42 CFR Part 2 (substance use disorder records). */
export const PART2_LABEL = '42CFRPart2';

/**
 * Labels whose data a permit covers only when it lists them (meta.security or
 * provision.securityLabel): disclosure of that data needs a consent that says so.
 */
export const LABELS_NEEDING_EXPLICIT_CONSENT: ReadonlySet<string> = new Set([PART2_LABEL]);

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
