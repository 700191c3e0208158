import type { Eligibility, EligibilityRule, EligibilityValue } from './directory.model';

/** `unknown`: the person's data does not say (no age, no payer…), so the rule can't be decided. */
export type EligibilityOutcome = 'pass' | 'fail' | 'unknown';

export interface EligibilityCheck {
  /** The rule in words: "age 18–64", "payer in [medicaid, medicare]". */
  rule: string;
  outcome: EligibilityOutcome;
  /** Why, in words: "age 34 is within 18–64", "payer is unknown". */
  reason: string;
}

export interface EligibilityResult {
  /** `fail` if any check fails, else `unknown` if any is unknown, else `pass`. */
  outcome: EligibilityOutcome;
  checks: EligibilityCheck[];
}

export interface EligibilitySubject {
  age?: number;
  attributes?: Readonly<Record<string, EligibilityValue | undefined>>;
}

/** Evaluates a service's eligibility (age bounds, then each rule) for one person. */
export function evaluateEligibility(
  eligibility: Eligibility,
  subject: EligibilitySubject,
): EligibilityResult {
  const checks: EligibilityCheck[] = [];
  const { minAge, maxAge } = eligibility;
  if (minAge !== undefined || maxAge !== undefined) {
    checks.push(checkAge(minAge, maxAge, subject.age));
  }
  for (const rule of eligibility.rules) {
    checks.push(checkRule(rule, subject.attributes?.[rule.attribute]));
  }
  let outcome: EligibilityOutcome = 'pass';
  for (const c of checks) {
    if (c.outcome === 'fail') return { outcome: 'fail', checks };
    if (c.outcome === 'unknown') outcome = 'unknown';
  }
  return { outcome, checks };
}

export function describeAgeRange(minAge: number | undefined, maxAge: number | undefined): string {
  if (minAge !== undefined && maxAge !== undefined) return `age ${minAge}–${maxAge}`;
  if (minAge !== undefined) return `age ${minAge} or older`;
  return `age ${maxAge} or younger`;
}

function checkAge(
  minAge: number | undefined,
  maxAge: number | undefined,
  age: number | undefined,
): EligibilityCheck {
  const rule = describeAgeRange(minAge, maxAge);
  if (age === undefined || !Number.isFinite(age)) {
    return { rule, outcome: 'unknown', reason: 'age is unknown' };
  }
  if (minAge !== undefined && age < minAge) {
    return { rule, outcome: 'fail', reason: `age ${age} is under ${minAge}` };
  }
  if (maxAge !== undefined && age > maxAge) {
    return { rule, outcome: 'fail', reason: `age ${age} is over ${maxAge}` };
  }
  return { rule, outcome: 'pass', reason: `age ${age} meets ${rule}` };
}

const OP_WORDS: Record<EligibilityRule['op'], string> = {
  eq: 'is',
  ne: 'is not',
  in: 'in',
  'not-in': 'not in',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
};

export function describeRule(rule: EligibilityRule): string {
  if (rule.description) return rule.description;
  const target = 'values' in rule ? `[${rule.values.join(', ')}]` : String(rule.value);
  return `${rule.attribute} ${OP_WORDS[rule.op]} ${target}`;
}

function checkRule(rule: EligibilityRule, actual: EligibilityValue | undefined): EligibilityCheck {
  const text = describeRule(rule);
  if (actual === undefined || actual === null || actual === '') {
    return { rule: text, outcome: 'unknown', reason: `${rule.attribute} is unknown` };
  }
  const ok = ruleHolds(rule, actual);
  if (ok === undefined) {
    return {
      rule: text,
      outcome: 'unknown',
      reason: `${rule.attribute} ${JSON.stringify(actual)} can't be compared with ${text}`,
    };
  }
  return {
    rule: text,
    outcome: ok ? 'pass' : 'fail',
    reason: ok
      ? `${rule.attribute} is ${String(actual)}`
      : `${rule.attribute} is ${String(actual)} (requires ${text})`,
  };
}

/** undefined when the values can't be compared (e.g. "abc" ≥ 3). */
function ruleHolds(rule: EligibilityRule, actual: EligibilityValue): boolean | undefined {
  switch (rule.op) {
    case 'eq':
      return sameValue(rule.value, actual);
    case 'ne':
      return !sameValue(rule.value, actual);
    case 'in':
      return rule.values.some((v) => sameValue(v, actual));
    case 'not-in':
      return !rule.values.some((v) => sameValue(v, actual));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const n = toNumber(actual);
      if (n === undefined) return undefined;
      if (rule.op === 'gt') return n > rule.value;
      if (rule.op === 'gte') return n >= rule.value;
      if (rule.op === 'lt') return n < rule.value;
      return n <= rule.value;
    }
  }
}

/** Case-insensitive for strings; "true"/"false" and numeric strings compare with their values. */
function sameValue(expected: EligibilityValue, actual: EligibilityValue): boolean {
  if (typeof expected === 'boolean') {
    if (typeof actual === 'boolean') return actual === expected;
    if (typeof actual === 'string') return actual.trim().toLowerCase() === String(expected);
    return false;
  }
  if (typeof expected === 'number') {
    const n = toNumber(actual);
    return n !== undefined && n === expected;
  }
  if (typeof actual === 'string') return actual.trim().toLowerCase() === expected.toLowerCase();
  return String(actual).toLowerCase() === expected.toLowerCase();
}

function toNumber(v: EligibilityValue): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}
