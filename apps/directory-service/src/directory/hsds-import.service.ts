import { BadRequestException, Injectable } from '@nestjs/common';
import { parseHsds, type HsdsIssue } from '@carerelay/directory';
import {
  DirectoryConsistencyError,
  DirectoryService,
  DirectoryWriteSummary,
  Kind,
} from './directory.service';

export interface HsdsImportSummary extends DirectoryWriteSummary {
  warnings: HsdsIssue[];
}

/** The array keys under which HSDS places records of each kind. */
const CONTAINERS: Readonly<Record<Kind, ReadonlySet<string>>> = {
  organization: new Set(['organizations', 'contents', '']),
  service: new Set(['services']),
  location: new Set(['locations', 'location']),
};

/**
 * The JSON path of the HSDS record of `kind` with this id in `input`, e.g.
 * `organizations[3].services[1]`; the record name when it can't be found.
 */
export function pathOfRecord(input: unknown, kind: Kind, id: string): string | undefined {
  const visit = (value: unknown, path: string, container: string): string | undefined => {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const found = visit(value[i], `${path}[${i}]`, container);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (typeof value !== 'object' || value === null) return undefined;
    const record = value as Record<string, unknown>;
    if (record.id === id && CONTAINERS[kind].has(container)) return path;
    for (const [key, child] of Object.entries(record)) {
      if (typeof child !== 'object' || child === null) continue;
      const found = visit(child, path ? `${path}.${key}` : key, key);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return visit(input, '', '');
}

/** HSDS 3.0 JSON in, the whole document stored and announced, or nothing at all. */
@Injectable()
export class HsdsImportService {
  constructor(private readonly directory: DirectoryService) {}

  async import(input: unknown): Promise<HsdsImportSummary> {
    const result = parseHsds(input);
    if (!result.ok) throw importRefused(result.errors, result.warnings);
    try {
      const summary = await this.directory.writeDirectory(result.directory);
      return { ...summary, warnings: result.warnings };
    } catch (error) {
      if (!(error instanceof DirectoryConsistencyError)) throw error;
      const errors: HsdsIssue[] = error.problems.map((p) => {
        const at = pathOfRecord(input, p.kind, p.id) ?? `${p.kind} ${p.id}`;
        return {
          severity: 'error',
          path: p.field ? `${at}.${p.field}` : at,
          record: `${p.kind} "${p.id}"`,
          message: p.message,
        };
      });
      throw importRefused(errors, result.warnings);
    }
  }
}

function importRefused(errors: HsdsIssue[], warnings: HsdsIssue[]): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: errors
      .slice(0, 50)
      .map((e) => `${e.path}${e.record ? ` (${e.record})` : ''}: ${e.message}`),
    errors,
    warnings,
    fields: [...new Set(errors.map((e) => e.path))],
  });
}
