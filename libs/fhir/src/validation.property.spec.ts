import fc from 'fast-check';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from './operation-outcome';
import { collectReferences, rewriteReferences } from './references';
import { assertReferralRules } from './referral.rules';
import { assertValidFhirResource, validateFhirResource } from './resource-validation';
import { extractSearchIndex } from './search-index';
import { parseSearchRequest } from './search-request';
import { checkOwnerChanges, checkTaskUpdate } from './task-status.rules';
import { fixture, TASK_COMPLETED } from '../test-fixtures/load';

/**
 * Property tests: hostile or random input never makes the library throw anything but a
 * FhirError with a 4xx status (400 for malformed, 422 for rules, 403 for owner changes).
 */

type Json = unknown;
type Path = (string | number)[];

function pathsOf(value: Json, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) {
    value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push(...pathsOf(v, [...prefix, k]));
    }
  }
  return out;
}

interface Mutation {
  pathIndex: number;
  kind: 'set' | 'delete' | 'add';
  key: string;
  value: Json;
}

/** Sets an own property, as JSON.parse does (`obj.__proto__ = x` would change the prototype). */
function own(target: Record<string | number, Json>, key: string | number, value: Json): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function applyMutation(root: Json, m: Mutation): Json {
  const paths = pathsOf(root);
  const path = paths[m.pathIndex % paths.length];
  if (path.length === 0) {
    return m.kind === 'set' ? m.value : root;
  }
  let parent = root as Record<string | number, Json>;
  for (const step of path.slice(0, -1)) {
    parent = parent[step] as Record<string | number, Json>;
  }
  const last = path[path.length - 1];
  if (m.kind === 'delete') {
    if (Array.isArray(parent)) {
      parent.splice(Number(last), 1);
    } else {
      delete parent[last];
    }
  } else if (m.kind === 'set') {
    own(parent, last, m.value);
  } else {
    const target = parent[last];
    if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
      own(target as Record<string, Json>, m.key, m.value);
    }
  }
  return root;
}

const interestingStrings = fc.constantFrom(
  '',
  ' ',
  'requested',
  'accepted',
  'bogus',
  'order',
  'Patient/1',
  'urn:uuid:9b1f1a36-2a3d-4c3b-9a57-3a1c3f3f0a11',
  '#x',
  '2020-13-45',
  '2020',
  'constructor',
  '__proto__',
  'resourceType',
  'Task',
  '\u0000',
  '<div>',
);
const jsonValue = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: interestingStrings },
  { weight: 1, arbitrary: fc.constant(null) },
);
const mutation: fc.Arbitrary<Mutation> = fc.record({
  pathIndex: fc.nat(),
  kind: fc.constantFrom<'set' | 'delete' | 'add'>('set', 'delete', 'add'),
  key: fc.oneof(fc.string(), interestingStrings),
  value: jsonValue,
});

function expectOnlyClientErrors(fn: () => void, allowed: number[]): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof FhirError) || !allowed.includes(error.status)) {
      throw error;
    }
  }
}

describe('validation never throws on hostile input', () => {
  it('random JSON gives an issue list', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const issues = validateFhirResource(value);
        expect(Array.isArray(issues)).toBe(true);
        expect(issues.length).toBeGreaterThan(0); // random JSON is never a valid resource
      }),
      { numRuns: 300 },
    );
  });

  it('random objects claiming to be a Task give issues, never an exception', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.oneof(fc.string(), interestingStrings), jsonValue, { maxKeys: 8 }),
        (body) => {
          const issues = validateFhirResource({ ...body, resourceType: 'Task' });
          expect(Array.isArray(issues)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('mutated IG Tasks: 400, 422 or accepted; accepted ones index, rewrite and compare cleanly', () => {
    const original = fixture<Resource>(TASK_COMPLETED);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let body: Json = JSON.parse(JSON.stringify(original));
        for (const m of mutations) {
          body = applyMutation(body, m);
        }
        expect(Array.isArray(validateFhirResource(body))).toBe(true);
        expectOnlyClientErrors(() => {
          const resource = assertValidFhirResource(body);
          assertReferralRules(resource);
          extractSearchIndex(resource);
          collectReferences(resource);
          rewriteReferences(resource, { 'Patient/pat-53234': 'Patient/p2' });
          if (resource.resourceType === 'Task') {
            checkOwnerChanges(original as never, resource);
            checkTaskUpdate(original as never, resource, 'owner');
          }
        }, [400, 422]);
      }),
      { numRuns: 500 },
    );
  });
});

describe('search parsing never throws on hostile input', () => {
  const names = fc.oneof(
    fc.constantFrom(
      'status',
      'status:not',
      'patient',
      'patient:Patient',
      'owner:missing',
      'authored-on',
      '_id',
      '_lastUpdated',
      '_count',
      '_offset',
      '_sort',
      '_summary',
      '_include',
      '_revinclude',
      'name',
      'code',
      '_has:Task:focus:status',
      '_has:Task:patient:_has:Task:part-of:owner',
      'subject.name',
      'focus:ServiceRequest.patient.identifier',
      'characteristic-value',
      'constructor',
      '__proto__',
    ),
    fc.string(),
  );
  const values = fc.oneof(
    fc.constantFrom(
      '',
      ',',
      '|',
      '\\',
      'gt2020',
      'ap2020',
      'Patient/1',
      'Task:focus',
      '-_lastUpdated',
      'count',
      '101',
      '-1',
      'a,b,,c',
      'x|y|z',
    ),
    fc.string(),
  );

  it('random queries give a request or a 400/404 FhirError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('Task', 'ServiceRequest', 'Patient', 'Observation', 'Group', 'Bogus'),
        fc.array(fc.tuple(names, values), { maxLength: 6 }),
        fc.boolean(),
        (type, pairs, chains) => {
          const query = new URLSearchParams();
          for (const [k, v] of pairs) {
            query.append(k, v);
          }
          expectOnlyClientErrors(() => {
            const req = parseSearchRequest(type, query, { chains });
            expect(req.count).toBeLessThanOrEqual(100);
          }, [400, 404]);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
