import type { Patient } from '@medplum/fhirtypes';
import { applyJsonPatch } from './json-patch';
import { FhirError } from './operation-outcome';

const patient = (): Patient => ({
  resourceType: 'Patient',
  id: 'p1',
  meta: { versionId: '3' },
  name: [{ family: 'Abbas', given: ['Colin'] }],
});

const statusOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (error) {
    return error instanceof FhirError ? error.status : -1;
  }
  return undefined;
};

describe('applyJsonPatch', () => {
  it('applies add, replace and remove to a copy, leaving the input as it was', () => {
    const input = patient();
    const out = applyJsonPatch(input, [
      { op: 'add', path: '/telecom', value: [{ system: 'phone', value: '555-0100' }] },
      { op: 'replace', path: '/name/0/family', value: 'Abbas-Lee' },
      { op: 'test', path: '/id', value: 'p1' },
      { op: 'remove', path: '/name/0/given' },
    ]);
    expect(out).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      meta: { versionId: '3' },
      name: [{ family: 'Abbas-Lee' }],
      telecom: [{ system: 'phone', value: '555-0100' }],
    });
    expect(input).toEqual(patient());
  });

  it.each([
    ['not an array', { op: 'add', path: '/active', value: true }],
    ['empty', []],
    ['an unknown op', [{ op: 'merge', path: '/active', value: true }]],
    ['a path that is no pointer', [{ op: 'add', path: 'active', value: true }]],
    ['add without a value', [{ op: 'add', path: '/active' }]],
    ['the id', [{ op: 'replace', path: '/id', value: 'other' }]],
    ['the resourceType', [{ op: 'replace', path: '/resourceType', value: 'Task' }]],
    ['the versionId', [{ op: 'replace', path: '/meta/versionId', value: '1' }]],
    ['a prototype', [{ op: 'add', path: '/__proto__/polluted', value: true }]],
    ['a copy from a prototype', [{ op: 'copy', from: '/constructor', path: '/x' }]],
  ])('refuses a document with %s as a 400', (_name, document) => {
    expect(statusOf(() => applyJsonPatch(patient(), document))).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['a failing test', [{ op: 'test', path: '/name/0/family', value: 'Smith' }]],
    ['a path that does not exist', [{ op: 'replace', path: '/birthDate', value: '1970-01-01' }]],
    ['a remove of nothing', [{ op: 'remove', path: '/telecom/0' }]],
  ])('answers %s with a 422', (_name, document) => {
    expect(statusOf(() => applyJsonPatch(patient(), document))).toBe(422);
  });
});
