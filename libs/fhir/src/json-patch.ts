import type { Resource } from '@medplum/fhirtypes';
import { applyPatch, type Operation } from 'rfc6902';
import { badRequest, unprocessable } from './operation-outcome';

/** The media type of a JSON Patch (RFC 6902) document, as FHIR R4's http page names it. */
export const JSON_PATCH_MEDIA_TYPE = 'application/json-patch+json';

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);
/** Elements the server owns: a patch that touches them is refused rather than ignored. */
const SERVER_OWNED = [
  /^\/id(\/|$)/,
  /^\/resourceType(\/|$)/,
  /^\/meta\/(versionId|lastUpdated)(\/|$)/,
];
/** Path segments that would reach an object's prototype instead of a FHIR element. */
const PROTOTYPE_SEGMENT = /(^|\/)(__proto__|prototype|constructor)(\/|$)/;

/** Why `document` is not a JSON Patch this server applies, or undefined. */
function documentProblem(document: unknown): string | undefined {
  if (!Array.isArray(document)) return 'A JSON Patch document is an array of operations';
  if (document.length === 0) return 'The JSON Patch document has no operation';
  for (const [i, operation] of document.entries()) {
    const op = operation as Record<string, unknown> | null;
    if (typeof op !== 'object' || op === null || Array.isArray(op))
      return `Operation ${i} is not an object`;
    if (typeof op.op !== 'string' || !OPS.has(op.op))
      return `Operation ${i}: op must be one of ${[...OPS].join(', ')}`;
    const pointers = [op.path, ...(op.op === 'move' || op.op === 'copy' ? [op.from] : [])];
    for (const pointer of pointers) {
      if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/')))
        return `Operation ${i}: path and from are JSON Pointers ("/status")`;
      if (PROTOTYPE_SEGMENT.test(pointer)) return `Operation ${i}: ${pointer} is not an element`;
      if (op.op !== 'test' && SERVER_OWNED.some((owned) => owned.test(pointer)))
        return `Operation ${i}: ${pointer} is set by the server and cannot be patched`;
    }
    if (['add', 'replace', 'test'].includes(op.op) && !('value' in op))
      return `Operation ${i}: ${op.op} needs a value`;
  }
  return undefined;
}

/**
 * The resource after a JSON Patch, applied to a copy. A document that is not a valid patch is a
 * 400; a patch that cannot be applied to this resource (a `test` that fails, a path that does not
 * exist) is a 422, as R4's http page says for PATCH.
 */
export function applyJsonPatch<T extends Resource>(resource: T, document: unknown): T {
  const problem = documentProblem(document);
  if (problem) throw badRequest(problem, undefined, 'structure');
  // A JSON round trip, not structuredClone: the copy must be plain JSON in this realm's prototypes.
  const copy = JSON.parse(JSON.stringify(resource)) as T;
  const results = applyPatch(copy, document as Operation[]);
  const failed = results.findIndex((result) => result !== null);
  if (failed >= 0) {
    const { op, path } = (document as Operation[])[failed];
    throw unprocessable(
      `Operation ${failed} (${op} ${path}) cannot be applied: ${results[failed]!.name}`,
      undefined,
      'value',
    );
  }
  return copy;
}
