// HSDS service fields → the service's status, languages and age limits.

import type { Service } from './directory.model';
import type { HsdsReader, Json } from './hsds.reader';
import { normalizeLanguageTag } from './languages';

/** active → active; inactive, defunct, temporarily closed → inactive. */
export function mapStatus(
  r: HsdsReader,
  rawStatus: string | undefined,
  path: string,
  record: string,
): Service['status'] {
  let status: Service['status'] = 'active';
  if (rawStatus) {
    if (rawStatus === 'active') status = 'active';
    else if (['inactive', 'defunct', 'temporarily closed'].includes(rawStatus)) status = 'inactive';
    else
      r.error(
        `${path}.status`,
        record,
        `must be active, inactive, defunct or temporarily closed, got "${rawStatus}"`,
      );
  }
  return status;
}

/** languages[].code (ISO 639-1/2 or BCP-47; else name) → BCP-47 tags, each once. */
export function mapLanguages(r: HsdsReader, raw: Json, path: string, record: string): string[] {
  const languages: string[] = [];
  for (const [lang, p] of r.objects(raw, 'languages', path, record)) {
    const code = r.str(lang, 'code', p, record);
    const langName = r.str(lang, 'name', p, record);
    const tag = code !== undefined ? normalizeLanguageTag(code) : normalizeLanguageTag(langName);
    if (!tag) {
      if (code !== undefined) {
        r.error(`${p}.code`, record, `"${code}" is not an ISO 639 / BCP-47 language code`);
      } else {
        r.warn(
          p,
          record,
          `language ${langName ? `"${langName}"` : 'without code or name'} not recognised, skipped`,
        );
      }
      continue;
    }
    if (!languages.includes(tag)) languages.push(tag);
  }
  return languages;
}

/** minimum_age and maximum_age: not negative, the minimum not above the maximum. */
export function mapAges(
  r: HsdsReader,
  raw: Json,
  path: string,
  record: string,
): { minAge?: number; maxAge?: number } {
  const minAge = r.num(raw, 'minimum_age', path, record);
  const maxAge = r.num(raw, 'maximum_age', path, record);
  if (minAge !== undefined && maxAge !== undefined && minAge > maxAge) {
    r.error(`${path}.minimum_age`, record, `${minAge} is greater than maximum_age ${maxAge}`);
  }
  for (const [key, v] of [
    ['minimum_age', minAge],
    ['maximum_age', maxAge],
  ] as const) {
    if (v !== undefined && v < 0)
      r.error(`${path}.${key}`, record, `must not be negative, got ${v}`);
  }
  return { minAge, maxAge };
}
