import type { Parameters, ParametersParameter, Patient } from '@medplum/fhirtypes';
import { applyFhirPathPatch } from './fhirpath-patch';
import { FhirError } from './operation-outcome';

const patient = (): Patient => ({
  resourceType: 'Patient',
  id: 'p1',
  active: true,
  name: [
    { use: 'official', family: 'Abbas', given: ['Ann'] },
    { use: 'nickname', given: ['Annie'] },
  ],
  telecom: [
    { system: 'phone', value: '1' },
    { system: 'phone', value: '2' },
    { system: 'email', value: 'a@example.org' },
  ],
});

type Part = ParametersParameter;
const op = (type: string, path: string, ...parts: Part[]): Part => ({
  name: 'operation',
  part: [{ name: 'type', valueCode: type }, { name: 'path', valueString: path }, ...parts],
});
const patch = (...operations: Part[]): Parameters => ({
  resourceType: 'Parameters',
  parameter: operations,
});

function refusal(document: unknown): FhirError {
  try {
    applyFhirPathPatch(patient(), document);
  } catch (error) {
    if (error instanceof FhirError) return error;
    throw error;
  }
  throw new Error('the patch applied');
}

describe('applyFhirPathPatch', () => {
  it('replaces, deletes, adds and inserts, on a copy', () => {
    const before = patient();
    const after = applyFhirPathPatch(
      before,
      patch(
        op('replace', 'Patient.active', { name: 'value', valueBoolean: false }),
        op('delete', "Patient.name.where(use = 'nickname')"),
        op(
          'add',
          "Patient.name.where(use = 'official')",
          { name: 'name', valueString: 'given' },
          { name: 'value', valueString: 'B.' },
        ),
        op(
          'add',
          'Patient',
          { name: 'name', valueString: 'gender' },
          { name: 'value', valueCode: 'female' },
        ),
        op(
          'add',
          'Patient',
          { name: 'name', valueString: 'deceased' },
          { name: 'value', valueBoolean: false },
        ),
        op(
          'insert',
          'Patient.telecom',
          { name: 'value', valueContactPoint: { system: 'fax', value: '0' } },
          { name: 'index', valueInteger: 0 },
        ),
        op(
          'move',
          'Patient.telecom',
          { name: 'source', valueInteger: 3 },
          { name: 'destination', valueInteger: 1 },
        ),
      ),
    );
    expect(after).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      active: false,
      name: [{ use: 'official', family: 'Abbas', given: ['Ann', 'B.'] }],
      gender: 'female',
      deceasedBoolean: false,
      telecom: [
        { system: 'fax', value: '0' },
        { system: 'email', value: 'a@example.org' },
        { system: 'phone', value: '1' },
        { system: 'phone', value: '2' },
      ],
    });
    expect(before).toEqual(patient());
  });

  it('adds an anonymous (backbone) value given as parts', () => {
    const after = applyFhirPathPatch(
      patient(),
      patch(
        op(
          'add',
          'Patient',
          { name: 'name', valueString: 'contact' },
          {
            name: 'value',
            part: [
              { name: 'name', valueHumanName: { family: 'Baxter' } },
              { name: 'gender', valueCode: 'male' },
            ],
          },
        ),
      ),
    );
    expect(after.contact).toEqual([{ name: { family: 'Baxter' }, gender: 'male' }]);
  });

  it('deleting what is not there changes nothing', () => {
    expect(applyFhirPathPatch(patient(), patch(op('delete', 'Patient.birthDate')))).toEqual(
      patient(),
    );
  });

  it.each([
    ['not Parameters', [{ op: 'replace', path: '/active', value: false }]],
    ['no operation', patch()],
    ['an unknown type', patch(op('upsert', 'Patient.active'))],
    ['a path that does not parse', patch(op('delete', 'Patient.name.where('))],
    ['replace without a value', patch(op('replace', 'Patient.active'))],
    ['add without a name', patch(op('add', 'Patient', { name: 'value', valueCode: 'male' }))],
    [
      'a prototype name',
      patch(
        op(
          'add',
          'Patient',
          { name: 'name', valueString: '__proto__' },
          { name: 'value', valueString: 'x' },
        ),
      ),
    ],
    ['a change of id', patch(op('replace', 'Patient.id', { name: 'value', valueId: 'other' }))],
  ])('refuses %s with a 400', (_what, document) => {
    expect(refusal(document).status).toBe(400);
  });

  it.each([
    ['a path matching several elements', patch(op('delete', 'Patient.telecom'))],
    [
      'a replace of nothing',
      patch(op('replace', 'Patient.birthDate', { name: 'value', valueDate: '2000-01-01' })),
    ],
    [
      'an add to a single element that has a value',
      patch(
        op(
          'add',
          'Patient',
          { name: 'name', valueString: 'active' },
          { name: 'value', valueBoolean: false },
        ),
      ),
    ],
    [
      'an insert past the list',
      patch(
        op(
          'insert',
          'Patient.telecom',
          { name: 'value', valueContactPoint: {} },
          { name: 'index', valueInteger: 9 },
        ),
      ),
    ],
  ])('refuses %s with a 422', (_what, document) => {
    expect(refusal(document).status).toBe(422);
  });
});
