// Reading HSDS JSON: typed field readers that record an issue naming the path and the record
// when a value is missing or of the wrong type.

export interface HsdsIssue {
  severity: 'error' | 'warning';
  /** JSON path of the offending value: `organizations[2].services[0].languages[1].code`. */
  path: string;
  /** The record it belongs to: `service "svc-12"`. */
  record?: string;
  message: string;
}

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

/** The issues of one import, and the field readers that record them. */
export class HsdsReader {
  readonly errors: HsdsIssue[] = [];
  readonly warnings: HsdsIssue[] = [];

  error(path: string, record: string | undefined, message: string): void {
    this.errors.push({ severity: 'error', path, record, message });
  }

  warn(path: string, record: string | undefined, message: string): void {
    this.warnings.push({ severity: 'warning', path, record, message });
  }

  str(
    obj: Json,
    key: string,
    path: string,
    record: string | undefined,
    required = false,
  ): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null || v === '') {
      if (required) this.error(`${path}.${key}`, record, 'is required');
      return undefined;
    }
    if (typeof v !== 'string') {
      this.error(`${path}.${key}`, record, `must be a string, got ${typeName(v)}`);
      return undefined;
    }
    const trimmed = v.trim();
    if (required && !trimmed) this.error(`${path}.${key}`, record, 'is required');
    return trimmed || undefined;
  }

  num(
    obj: Json,
    key: string,
    path: string,
    record: string | undefined,
    required = false,
  ): number | undefined {
    const v = obj[key];
    if (v === undefined || v === null || v === '') {
      if (required) this.error(`${path}.${key}`, record, 'is required');
      return undefined;
    }
    // HSDS tabular sources often carry numbers as strings.
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      this.error(`${path}.${key}`, record, `must be a number, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return n;
  }

  arr(obj: Json, key: string, path: string, record: string | undefined): unknown[] {
    const v = obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.error(`${path}.${key}`, record, `must be an array, got ${typeName(v)}`);
      return [];
    }
    return v;
  }

  objects(obj: Json, key: string, path: string, record: string | undefined): Array<[Json, string]> {
    const out: Array<[Json, string]> = [];
    this.arr(obj, key, path, record).forEach((item, i) => {
      const p = `${path}.${key}[${i}]`;
      if (isObject(item)) out.push([item, p]);
      else this.error(p, record, `must be an object, got ${typeName(item)}`);
    });
    return out;
  }
}
