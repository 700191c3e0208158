import { badRequest } from '@carerelay/fhir';

/** `W/"3"`, `"3"` or `3` → 3; undefined when absent; 400 when it is not a version. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!match)
    throw badRequest(
      `If-Match must be an ETag such as W/"1", not ${JSON.stringify(header.slice(0, 64))}`,
      undefined,
      'value',
    );
  return Number(match[1]);
}

export const etagOf = (versionId: number | string): string => `W/"${versionId}"`;
