import type { ValidationOptions } from 'class-validator';
import { rule } from '@carerelay/http';
import { normalizeLanguageTag, normalizePostalCode } from '@carerelay/directory';

export const IsLanguageTag = (options?: ValidationOptions) =>
  rule(
    'isLanguageTag',
    (value) => typeof value === 'string' && normalizeLanguageTag(value) !== undefined,
    'must be a BCP-47 language tag (es, es-MX), an ISO 639 code or an English language name',
    options,
  );

export const IsZipCode = (options?: ValidationOptions) =>
  rule(
    'isZipCode',
    (value) => typeof value === 'string' && normalizePostalCode(value) !== undefined,
    'must be a US ZIP code (60623 or 60623-1234)',
    options,
  );

export const IsEligibilityValue = (options?: ValidationOptions) =>
  rule(
    'isEligibilityValue',
    (value) =>
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)),
    'must be a string, a number or a boolean',
    options,
  );

/** The value is not below the number in the sibling property `other` (when both are set). */
export const IsNotBelow = (other: string, options?: ValidationOptions) =>
  rule(
    'isNotBelow',
    (value, object) => {
      const bound = (object as Record<string, unknown>)[other];
      return typeof value !== 'number' || typeof bound !== 'number' || value >= bound;
    },
    `must not be less than ${other}`,
    options,
  );

/** An HH:MM time after the HH:MM time in the sibling property `other`. */
export const IsTimeAfter = (other: string, options?: ValidationOptions) =>
  rule(
    'isTimeAfter',
    (value, object) => {
      const start = (object as Record<string, unknown>)[other];
      return typeof value !== 'string' || typeof start !== 'string' || value > start;
    },
    `must be later than ${other}`,
    options,
  );

/** A number when the sibling `op` is one of `ops` (gt, gte, lt, lte compare numbers). */
export const IsNumberFor = (ops: readonly string[], options?: ValidationOptions) =>
  rule(
    'isNumberFor',
    (value, object) =>
      !ops.includes(String((object as { op?: unknown }).op)) ||
      (typeof value === 'number' && Number.isFinite(value)),
    `must be a number for ${ops.join(', ')}`,
    options,
  );
