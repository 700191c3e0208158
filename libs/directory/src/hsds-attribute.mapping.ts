// HSDS attributes → the service's categories, codes, eligibility rules and capacity status.

import type {
  CapacityStatus,
  Coding,
  EligibilityRule,
  EligibilityValue,
  SdohCategory,
} from './directory.model';
import { capacityStatusFromCode, ELIGIBILITY_OPERATORS, isSdohCategory } from './directory.model';
import {
  CARERELAY_ELIGIBILITY_TAXONOMY,
  CARERELAY_NETWORK_TAXONOMY,
  SDOHCC_TAXONOMY,
} from './hsds.types';
import { type HsdsReader, isObject, type Json, typeName } from './hsds.reader';

export function readTerm(
  r: HsdsReader,
  attr: Json,
  path: string,
  record: string,
): { taxonomy?: string; code?: string; name?: string } | undefined {
  const term = attr.taxonomy_term;
  if (term === undefined || term === null) {
    if (attr.taxonomy_term_id !== undefined) {
      r.warn(
        path,
        record,
        'attribute refers to a taxonomy term by id only (taxonomy_term not embedded): skipped',
      );
    } else {
      r.error(`${path}.taxonomy_term`, record, 'is required');
    }
    return undefined;
  }
  if (!isObject(term)) {
    r.error(`${path}.taxonomy_term`, record, `must be an object, got ${typeName(term)}`);
    return undefined;
  }
  const tp = `${path}.taxonomy_term`;
  const detail = isObject(term.taxonomy_detail) ? term.taxonomy_detail : undefined;
  const taxonomy =
    (detail && r.str(detail, 'uri', `${tp}.taxonomy_detail`, record)) ??
    r.str(term, 'taxonomy', tp, record);
  return {
    taxonomy,
    code: r.str(term, 'code', tp, record),
    name: r.str(term, 'name', tp, record),
  };
}

export function mapServiceAttributes(r: HsdsReader, raw: Json, path: string, record: string) {
  const categories: SdohCategory[] = [];
  const codes: Coding[] = [];
  const rules: EligibilityRule[] = [];
  let capacityStatus: CapacityStatus | undefined;
  let capacityNotes: string | undefined;
  for (const [attr, p] of r.objects(raw, 'attributes', path, record)) {
    const term = readTerm(r, attr, p, record);
    if (!term) continue;
    const codePath = `${p}.taxonomy_term.code`;
    if (!term.taxonomy) {
      r.warn(`${p}.taxonomy_term.taxonomy`, record, 'attribute without a taxonomy: skipped');
      continue;
    }
    if (!term.code) {
      r.error(codePath, record, 'is required for a classifying attribute');
      continue;
    }
    if (term.taxonomy === SDOHCC_TAXONOMY) {
      const capacity = capacityStatusFromCode(term.code);
      if (isSdohCategory(term.code)) {
        if (!categories.includes(term.code)) categories.push(term.code);
      } else if (capacity) {
        capacityStatus = capacity;
        capacityNotes = r.str(attr, 'value', p, record);
      } else {
        r.warn(
          codePath,
          record,
          `"${term.code}" is neither an SDOH category nor a capacity status code: skipped`,
        );
      }
    } else if (term.taxonomy === CARERELAY_ELIGIBILITY_TAXONOMY) {
      const rule = mapEligibilityRule(r, term.code, attr, p, record);
      if (rule) rules.push(rule);
    } else if (term.taxonomy !== CARERELAY_NETWORK_TAXONOMY) {
      const coding: Coding = { system: term.taxonomy, code: term.code };
      if (term.name && term.name !== term.code) coding.display = term.name;
      if (!codes.some((c) => c.system === coding.system && c.code === coding.code))
        codes.push(coding);
    }
  }
  return { categories, codes, rules, capacityStatus, capacityNotes };
}

function mapEligibilityRule(
  r: HsdsReader,
  attribute: string,
  attr: Json,
  path: string,
  record: string,
): EligibilityRule | undefined {
  const valuePath = `${path}.value`;
  const text = r.str(attr, 'value', path, record, true);
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    r.error(
      valuePath,
      record,
      `eligibility rule must be JSON like {"op":"in","values":["medicaid"]}, got ${JSON.stringify(text)}`,
    );
    return undefined;
  }
  if (!isObject(parsed)) {
    r.error(valuePath, record, 'eligibility rule must be a JSON object');
    return undefined;
  }
  const op = parsed.op;
  const description = r.str(attr, 'label', path, record);
  const isScalar = (v: unknown): v is EligibilityValue =>
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v));
  if (typeof op !== 'string' || !(ELIGIBILITY_OPERATORS as readonly string[]).includes(op)) {
    r.error(
      valuePath,
      record,
      `eligibility rule "op" must be one of ${ELIGIBILITY_OPERATORS.join(', ')}, got ${JSON.stringify(op)}`,
    );
    return undefined;
  }
  const base = description ? { attribute, description } : { attribute };
  if (op === 'in' || op === 'not-in') {
    const values = parsed.values;
    if (!Array.isArray(values) || values.length === 0 || !values.every(isScalar)) {
      r.error(
        valuePath,
        record,
        `eligibility rule "${op}" needs "values": a non-empty array of strings, numbers or booleans`,
      );
      return undefined;
    }
    return { ...base, op, values };
  }
  const value = parsed.value;
  if (op === 'eq' || op === 'ne') {
    if (!isScalar(value)) {
      r.error(
        valuePath,
        record,
        `eligibility rule "${op}" needs "value": a string, number or boolean`,
      );
      return undefined;
    }
    return { ...base, op, value };
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    r.error(valuePath, record, `eligibility rule "${op}" needs a numeric "value"`);
    return undefined;
  }
  return { ...base, op: op as 'gt' | 'gte' | 'lt' | 'lte', value };
}
