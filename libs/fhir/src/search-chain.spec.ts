import { FhirError } from './operation-outcome';
import { MAX_CHAIN_DEPTH } from './search-chain';
import { parseSearchRequest } from './search-request';

const chains = { chains: true };
const parse = (type: string, query: string, options: object = chains) =>
  parseSearchRequest(type, new URLSearchParams(query), options);

function failure(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FhirError) return e;
    throw e;
  }
  throw new Error('expected a FhirError');
}

describe('chains of several levels', () => {
  it('parses a two-level chain into nested chain filters', () => {
    expect(parse('Task', 'focus:ServiceRequest.patient.identifier=http://mrn|1').filters).toEqual([
      {
        param: 'focus',
        kind: 'chain',
        targetTypes: ['ServiceRequest'],
        chained: {
          param: 'patient',
          kind: 'chain',
          targetTypes: ['Patient'],
          chained: {
            param: 'identifier',
            kind: 'token',
            not: false,
            values: [{ system: 'http://mrn', code: '1' }],
          },
        },
      },
    ]);
  });

  it('keeps a type modifier and the last modifier at any level', () => {
    const [filter] = parse(
      'Task',
      'focus:ServiceRequest.requester:Organization.name:exact=Clinic',
    ).filters;
    expect(filter).toMatchObject({
      kind: 'chain',
      chained: {
        param: 'requester',
        kind: 'chain',
        targetTypes: ['Organization'],
        chained: { param: 'name', kind: 'string', match: 'exact' },
      },
    });
  });

  it(`accepts ${MAX_CHAIN_DEPTH} levels and refuses more (lenient: skipped)`, () => {
    expect(parse('Task', 'part-of.part-of.part-of.status=draft').filters).toHaveLength(1);
    const error = failure(() => parse('Task', 'part-of.part-of.part-of.part-of.status=draft'));
    expect(error.status).toBe(400);
    expect(error.message).toContain('part-of.part-of.part-of.part-of.status');
    expect(
      parse('Task', 'part-of.part-of.part-of.part-of.status=draft&status=draft', {
        ...chains,
        handling: 'lenient',
      }).ignored,
    ).toEqual(['part-of.part-of.part-of.part-of.status']);
  });

  it('untyped, goes on only through targets whose next parameter is a reference', () => {
    // ServiceRequest.performer is a reference, Task.performer a token.
    const [filter] = parse('Task', 'focus.performer:Organization.name=x').filters;
    expect(filter.kind === 'chain' && filter.targetTypes).toContain('ServiceRequest');
    expect(filter.kind === 'chain' && filter.targetTypes).not.toContain('Task');
  });
});

describe('_has (reverse chaining)', () => {
  it('parses _has:Type:ref:param', () => {
    expect(parse('Patient', '_has:Task:patient:status=requested').filters).toEqual([
      {
        param: '_has',
        kind: 'has',
        sourceType: 'Task',
        referenceParam: 'patient',
        filter: {
          param: 'status',
          kind: 'token',
          not: false,
          values: [{ code: 'requested' }],
        },
      },
    ]);
  });

  it('nests _has and chains from the source, within the depth limit', () => {
    const [filter] = parse(
      'ServiceRequest',
      '_has:Task:focus:owner:Organization.name=Pantry',
    ).filters;
    expect(filter).toMatchObject({
      kind: 'has',
      sourceType: 'Task',
      filter: { kind: 'chain', param: 'owner', chained: { param: 'name' } },
    });
    const [nested] = parse('Patient', '_has:Task:patient:_has:Task:part-of:status=draft').filters;
    expect(nested).toMatchObject({
      kind: 'has',
      filter: { kind: 'has', referenceParam: 'part-of', filter: { param: 'status' } },
    });
    expect(
      failure(() =>
        parse('Patient', '_has:Task:patient:_has:Task:part-of:_has:Task:part-of:part-of.status=x'),
      ).status,
    ).toBe(400);
  });

  it('refuses a source parameter that is no reference to the searched type, or a bad form', () => {
    expect(failure(() => parse('Patient', '_has:Task:status:status=x')).message).toContain(
      'status',
    );
    expect(failure(() => parse('Organization', '_has:Task:patient:status=x')).status).toBe(400);
    expect(failure(() => parse('Patient', '_has:Bogus:patient:status=x')).message).toContain(
      'Bogus',
    );
    expect(failure(() => parse('Patient', '_has:Task:patient=x')).status).toBe(400);
    expect(failure(() => parse('Patient', '_has:Task:patient:colour=x')).message).toContain(
      'colour',
    );
  });

  it('is "not supported" where chains are not (subscription filters)', () => {
    const error = failure(() => parse('Patient', '_has:Task:patient:status=x', {}));
    expect(error.status).toBe(400);
    expect(error.message).toContain('_has');
  });
});
