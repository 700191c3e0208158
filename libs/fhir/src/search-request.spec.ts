import { FhirError } from './operation-outcome';
import {
  DEFAULT_SEARCH_COUNT,
  MAX_OR_VALUES,
  MAX_SEARCH_COUNT,
  pageQuery,
  parseSearchRequest,
  searchScope,
  type FhirSearchRequest,
} from './search-request';

function parse(resourceType: string, query: string, options = {}): FhirSearchRequest {
  return parseSearchRequest(resourceType, new URLSearchParams(query), options);
}

function failure(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FhirError) {
      return e;
    }
    throw e;
  }
  throw new Error('expected a FhirError');
}

describe('parseSearchRequest', () => {
  it('parses the search of the "must show": requester, status, _lastUpdated, _include', () => {
    const req = parse(
      'Task',
      'requester=PractitionerRole/dr-1&status=requested&_lastUpdated=gt2026-01-01T00:00:00Z&_include=Task:focus',
    );
    expect(req).toEqual({
      resourceType: 'Task',
      filters: [
        { param: 'requester', kind: 'reference', values: ['PractitionerRole/dr-1'] },
        { param: 'status', kind: 'token', not: false, values: [{ code: 'requested' }] },
        {
          param: '_lastUpdated',
          kind: 'date',
          values: [
            {
              prefix: 'gt',
              value: '2026-01-01T00:00:00Z',
              start: '2026-01-01T00:00:00.000Z',
              end: '2026-01-01T00:00:01.000Z',
            },
          ],
        },
      ],
      count: DEFAULT_SEARCH_COUNT,
      offset: 0,
      sort: [],
      include: [{ sourceType: 'Task', param: 'focus' }],
      revinclude: [],
      ignored: [],
    });
  });

  it('ORs comma-separated values and ANDs repeated parameters; _id takes several ids', () => {
    const req = parse('Task', '_id=a,b,c&status=accepted,in-progress&status:not=on-hold');
    expect(req.filters).toEqual([
      {
        param: '_id',
        kind: 'token',
        not: false,
        values: [{ code: 'a' }, { code: 'b' }, { code: 'c' }],
      },
      {
        param: 'status',
        kind: 'token',
        not: false,
        values: [{ code: 'accepted' }, { code: 'in-progress' }],
      },
      { param: 'status', kind: 'token', not: true, values: [{ code: 'on-hold' }] },
    ]);
  });

  it('parses token system|code forms and escapes', () => {
    const req = parse(
      'Task',
      'code=http://hl7.org/fhir/CodeSystem/task-code|fulfill,|nosys,urn:sys|,a\\,b,c\\|d',
    );
    expect(req.filters[0]).toMatchObject({
      kind: 'token',
      values: [
        { system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' },
        { system: null, code: 'nosys' },
        { system: 'urn:sys' },
        { code: 'a,b' },
        { code: 'c|d' },
      ],
    });
  });

  it('parses string modifiers and normalises values', () => {
    const req = parse('Patient', 'name=Jos%C3%A9&family:exact=ABBAS&given:contains=oli');
    expect(req.filters).toEqual([
      {
        param: 'name',
        kind: 'string',
        match: 'starts-with',
        values: [{ value: 'José', normalized: 'jose' }],
      },
      {
        param: 'family',
        kind: 'string',
        match: 'exact',
        values: [{ value: 'ABBAS', normalized: 'abbas' }],
      },
      {
        param: 'given',
        kind: 'string',
        match: 'contains',
        values: [{ value: 'oli', normalized: 'oli' }],
      },
    ]);
  });

  it('normalises reference values: typed, bare ids expanded to targets, local absolute URLs made relative', () => {
    const req = parse(
      'Task',
      'patient=pat-1&subject:Patient=p2&owner=http://localhost:8080/fhir/Organization/o1&requester=https://ehr.example.org/fhir/PractitionerRole/r1/_history/2',
      { localBaseUrls: ['http://localhost:8080/fhir'] },
    );
    expect(req.filters).toEqual([
      { param: 'patient', kind: 'reference', values: ['Patient/pat-1'] },
      { param: 'subject', kind: 'reference', values: ['Patient/p2'] },
      { param: 'owner', kind: 'reference', values: ['Organization/o1'] },
      {
        param: 'requester',
        kind: 'reference',
        values: ['https://ehr.example.org/fhir/PractitionerRole/r1'],
      },
    ]);
    const owner = parse('Task', 'owner=o1').filters[0];
    expect(owner.kind === 'reference' && owner.values).toEqual(
      expect.arrayContaining([
        'Organization/o1',
        'Practitioner/o1',
        'HealthcareService/o1',
        'CareTeam/o1',
      ]),
    );
  });

  it('parses prefixes on dates, numbers and quantities', () => {
    const req = parse(
      'Observation',
      'date=ge2020-01&date=lt2020-02-15T10:00:00+01:00&value-quantity=le5.4|http://unitsofmeasure.org|mg,sa10',
    );
    expect(req.filters[0]).toMatchObject({
      kind: 'date',
      values: [
        { prefix: 'ge', start: '2020-01-01T00:00:00.000Z', end: '2020-02-01T00:00:00.000Z' },
      ],
    });
    expect(req.filters[1]).toMatchObject({
      kind: 'date',
      values: [{ prefix: 'lt', start: '2020-02-15T09:00:00.000Z' }],
    });
    expect(req.filters[2]).toMatchObject({
      kind: 'quantity',
      values: [
        { prefix: 'le', value: 5.4, system: 'http://unitsofmeasure.org', code: 'mg' },
        { prefix: 'sa', value: 10 },
      ],
    });
  });

  it("repairs a timezone '+' that arrived as a space", () => {
    const req = parseSearchRequest('Task', '_lastUpdated=gt2026-01-01T10:00:00+02:00');
    expect(req.filters[0]).toMatchObject({ values: [{ start: '2026-01-01T08:00:00.000Z' }] });
  });

  it('parses :missing for any type', () => {
    const req = parse('Task', 'owner:missing=true&authored-on:missing=false');
    expect(req.filters).toEqual([
      { param: 'owner', kind: 'missing', paramType: 'reference', missing: true },
      { param: 'authored-on', kind: 'missing', paramType: 'date', missing: false },
    ]);
  });

  it('handles _count (default, cap), _offset, _sort, _summary, _total, _pretty, _format', () => {
    expect(parse('Task', '').count).toBe(DEFAULT_SEARCH_COUNT);
    expect(parse('Task', '_count=5').count).toBe(5);
    expect(parse('Task', '_count=0').count).toBe(0);
    expect(parse('Task', '_count=100000').count).toBe(MAX_SEARCH_COUNT);
    const req = parse(
      'Task',
      '_offset=40&_sort=-_lastUpdated&_summary=count&_total=accurate&_pretty=true&_format=application/fhir%2Bjson',
    );
    expect(req).toMatchObject({
      offset: 40,
      sort: [{ param: '_lastUpdated', descending: true }],
      summary: 'count',
      total: 'accurate',
      pretty: true,
    });
    expect(parse('Task', '_sort=_lastUpdated').sort).toEqual([
      { param: '_lastUpdated', descending: false },
    ]);
  });

  it('validates _include and _revinclude', () => {
    expect(
      parse('Task', '_include=Task:output&_include=Task:focus:ServiceRequest').include,
    ).toEqual([
      { sourceType: 'Task', param: 'output' },
      { sourceType: 'Task', param: 'focus', targetType: 'ServiceRequest' },
    ]);
    expect(
      parse('ServiceRequest', '_include=ServiceRequest:supporting-info&_revinclude=Task:focus'),
    ).toMatchObject({
      include: [{ sourceType: 'ServiceRequest', param: 'supporting-info' }],
      revinclude: [{ sourceType: 'Task', param: 'focus' }],
    });
    expect(parse('HealthcareService', '_include=HealthcareService:location').include).toHaveLength(
      1,
    );
  });

  it('ignores empty values, as FHIR requires', () => {
    expect(parse('Task', 'status=&_count=&owner=').filters).toEqual([]);
  });

  it('accepts a raw query string and a parsed query object', () => {
    expect(parseSearchRequest('Task', '?status=draft').filters).toHaveLength(1);
    expect(
      parseSearchRequest('Task', { status: ['draft', 'requested'], _count: '3' }),
    ).toMatchObject({ count: 3, filters: [{ param: 'status' }, { param: 'status' }] });
    expect(failure(() => parseSearchRequest('Task', { status: { a: 1 } as never })).status).toBe(
      400,
    );
  });

  it.each<[string, string, string]>([
    ['an unknown parameter', 'colour=red', '"colour"'],
    ['an unknown control parameter', '_bogus=1', '"_bogus"'],
    ['_contained', '_contained=true', '_contained'],
    ['_has', '_has:Task:focus:status=requested', '_has'],
    ['a chained parameter', 'patient.name=x', 'patient.name'],
    ['a typed chained parameter', 'subject:Patient.name=x', 'subject:Patient.name'],
    ['a composite value without its parts', 'code-value-quantity=x', 'code-value-quantity'],
    ['an unsupported modifier', 'status:text=x', ':text'],
    ['a string modifier on a token', 'status:exact=x', ':exact'],
    ['_include:recurse', '_include:recurse=Task:focus', '_include:recurse'],
  ])('rejects %s with a 400 naming it (strict)', (_what, query, named) => {
    const type = query.startsWith('code-value') ? 'Observation' : 'Task';
    const error = failure(() => parse(type, query));
    expect(error.status).toBe(400);
    expect(error.message).toContain(named);
  });

  it('skips unknown parameters under lenient handling but still rejects bad values', () => {
    const req = parse('Task', 'colour=red&status=draft&patient.name=x&_contained=true', {
      handling: 'lenient',
    });
    expect(req.ignored).toEqual(['colour', 'patient.name', '_contained']);
    expect(req.filters).toHaveLength(1);
    expect(failure(() => parse('Task', '_count=abc', { handling: 'lenient' })).status).toBe(400);
  });

  it.each<[string, string]>([
    ['_count=-1', '_count'],
    ['_count=1.5', '_count'],
    ['_count=1&_count=2', '_count'],
    ['_offset=10001', '_offset'],
    ['_sort=focus', 'focus'],
    ['_sort=colour', 'colour'],
    ['_sort=status,-status', 'twice'],
    ['_sort=-', 'empty'],
    ['_summary=maybe', '_summary'],
    ['_total=all', '_total'],
    ['_format=turtle', '_format'],
    ['_id=a b', 'a b'],
    ['_id=sys|a', '_id'],
    ['authored-on=2020-13-01', '2020-13-01'],
    ['authored-on=ap2020', 'ap'],
    ['authored-on=xx2020', 'xx'],
    ['owner=Task/1', 'cannot reference a Task'],
    ['owner:Medication=1', 'Medication'],
    ['focus=not a ref', 'not a ref'],
    ['focus=urn:bad', 'urn:bad'],
    ['code=|', '|'],
    ['code=a|b|c', 'a|b|c'],
    ['owner:missing=maybe', 'owner:missing'],
    ['_include=Task:status', 'status'],
    ['_include=ServiceRequest:patient', 'source type'],
    ['_include=*', 'wildcard'],
    ['_include=Task', 'Type:parameter'],
    ['_include=Task:focus:Bogus', 'Bogus'],
    ['_include=Task:owner:Medication', 'Medication'],
    ['_revinclude=Task:owner', 'Task.owner cannot reference a Task'],
    ['_revinclude=Nope:x', 'Nope'],
  ])('rejects the bad value %s with a 400', (query, named) => {
    const error = failure(() => parse('Task', query));
    expect(error.status).toBe(400);
    expect(error.message).toContain(named);
  });

  it('rejects number and quantity garbage', () => {
    expect(failure(() => parse('Observation', 'value-quantity=abc')).status).toBe(400);
    expect(failure(() => parse('Observation', 'value-quantity=5|mg')).status).toBe(400);
  });

  it('caps the number of parameters, OR values and value length', () => {
    const many = Array.from({ length: 51 }, (_, i) => `status=s${i}`).join('&');
    expect(failure(() => parse('Task', many)).message).toContain('Too many search parameters');
    const ors = Array.from({ length: MAX_OR_VALUES + 1 }, (_, i) => `s${i}`).join(',');
    expect(failure(() => parse('Task', `status=${ors}`)).message).toContain('Too many values');
    expect(failure(() => parse('Task', `status=${'x'.repeat(3000)}`)).message).toContain(
      'too long',
    );
  });

  it('answers 404 for an unknown resource type', () => {
    expect(failure(() => parse('Bogus', 'x=1')).status).toBe(404);
  });
});

describe('parseSearchRequest: chained parameters', () => {
  const chains = { chains: true };

  it('parses a typed chain into a filter of the target type', () => {
    const req = parse('Task', 'focus:ServiceRequest.category=http://x|food', chains);
    expect(req.filters).toEqual([
      {
        param: 'focus',
        kind: 'chain',
        targetTypes: ['ServiceRequest'],
        chained: {
          param: 'category',
          kind: 'token',
          not: false,
          values: [{ system: 'http://x', code: 'food' }],
        },
      },
    ]);
  });

  it('takes the single target of the parameter when no type is named', () => {
    const req = parse('Task', 'patient.identifier=http://mrn|123', chains);
    expect(req.filters).toEqual([
      {
        param: 'patient',
        kind: 'chain',
        targetTypes: ['Patient'],
        chained: {
          param: 'identifier',
          kind: 'token',
          not: false,
          values: [{ system: 'http://mrn', code: '123' }],
        },
      },
    ]);
  });

  it('searches every target that has the parameter when they agree on its type', () => {
    const [filter] = parse('Task', 'owner.identifier=http://npi|1', chains).filters;
    expect(filter.kind).toBe('chain');
    expect(filter.kind === 'chain' && filter.targetTypes).toEqual(
      expect.arrayContaining(['Organization', 'Practitioner', 'Patient']),
    );
  });

  it('untyped, searches only the types this server stores', () => {
    const [filter] = parse('Task', 'focus.status=active', chains).filters;
    expect(filter.kind === 'chain' && filter.targetTypes).toEqual(
      expect.arrayContaining(['Task', 'ServiceRequest', 'Procedure']),
    );
    expect(filter.kind === 'chain' && filter.targetTypes).not.toContain('MedicationRequest');
  });

  it('keeps modifiers and value rules of the chained parameter', () => {
    const [filter] = parse('ServiceRequest', 'subject:Patient.name:exact=Abbas', chains).filters;
    expect(filter).toMatchObject({
      kind: 'chain',
      chained: { param: 'name', kind: 'string', match: 'exact', values: [{ value: 'Abbas' }] },
    });
    const [missing] = parse('Task', 'focus:ServiceRequest.performer:missing=true', chains).filters;
    expect(missing).toMatchObject({
      kind: 'chain',
      chained: { kind: 'missing', param: 'performer', missing: true },
    });
    expect(
      failure(() => parse('Task', 'focus:ServiceRequest.authored=2020-13-01', chains)).status,
    ).toBe(400);
  });

  it.each<[string, string, string]>([
    ['an unknown chained parameter', 'focus:ServiceRequest.colour=x', 'colour'],
    ['four levels', 'part-of.part-of.part-of.part-of.status=x', 'at most 3 levels'],
    ['a middle level that is no reference', 'focus:ServiceRequest.category.name=x', 'category'],
    ['a chain on a token', 'status.code=x', 'status'],
    ['a chain on an unknown parameter', 'bogus.name=x', 'bogus'],
    ['an unknown target type', 'focus:Bogus.name=x', 'Bogus'],
    ['a target the parameter cannot reference', 'owner:Medication.code=x', 'Medication'],
    ['a parameter no target has', 'patient.category=x', 'category'],
  ])('rejects %s with a 400 naming it', (_what, query, named) => {
    const error = failure(() => parse('Task', query, chains));
    expect(error.status).toBe(400);
    expect(error.message).toContain(named);
  });

  it('skips an unknown chain under lenient handling', () => {
    const req = parse('Task', 'focus:ServiceRequest.colour=x&status=draft', {
      ...chains,
      handling: 'lenient',
    });
    expect(req.ignored).toEqual(['focus:ServiceRequest.colour']);
    expect(req.filters).toHaveLength(1);
  });

  it('refuses chains where the caller cannot follow them (no `chains` option)', () => {
    expect(failure(() => parse('Task', 'patient.identifier=x')).message).toContain(
      'patient.identifier',
    );
  });
});

describe('parseSearchRequest: _include:iterate and _revinclude:iterate', () => {
  it('marks iterated includes, whose source may be any type', () => {
    const req = parse(
      'Task',
      '_include=Task:focus&_include:iterate=ServiceRequest:supporting-info&_revinclude:iterate=Task:part-of',
    );
    expect(req.include).toEqual([
      { sourceType: 'Task', param: 'focus' },
      { sourceType: 'ServiceRequest', param: 'supporting-info', iterate: true },
    ]);
    expect(req.revinclude).toEqual([{ sourceType: 'Task', param: 'part-of', iterate: true }]);
    expect(parse('Task', '_revinclude:iterate=Consent:patient').revinclude).toEqual([
      { sourceType: 'Consent', param: 'patient', iterate: true },
    ]);
  });

  it('still checks the parameter of an iterated include', () => {
    expect(failure(() => parse('Task', '_include:iterate=ServiceRequest:status')).status).toBe(400);
    expect(failure(() => parse('Task', '_include:iterate=*')).status).toBe(400);
  });
});

describe('parseSearchRequest: _sort', () => {
  it('sorts by several keys, - descending, with the type of each parameter', () => {
    expect(parse('Task', '_sort=status,-authored-on,_id').sort).toEqual([
      { param: 'status', descending: false, type: 'token' },
      { param: 'authored-on', descending: true, type: 'date' },
      { param: '_id', descending: false },
    ]);
    expect(parse('Task', '_sort=-_lastUpdated').sort).toEqual([
      { param: '_lastUpdated', descending: true },
    ]);
  });

  it('skips an unsortable key under lenient handling', () => {
    const req = parse('Task', '_sort=focus,priority', { handling: 'lenient' });
    expect(req.sort).toEqual([{ param: 'priority', descending: false, type: 'token' }]);
    expect(req.ignored).toEqual(['_sort=focus']);
  });
});

describe('_cursor', () => {
  it('is kept as sent, for the app to decode', () => {
    expect(parse('Task', 'status=requested&_cursor=eyJh.b-c_d').cursor).toBe('eyJh.b-c_d');
  });

  it('refuses a cursor with _offset, twice, or with characters no cursor has', () => {
    for (const query of ['_cursor=abc&_offset=2', '_cursor=a&_cursor=b', '_cursor=a%20b']) {
      expect([query, failure(() => parse('Task', query)).status]).toEqual([query, 400]);
    }
  });
});

describe('searchScope', () => {
  it('names the type and the parameters that choose and order the matches, in any order', () => {
    const a = searchScope('Task', 'status=requested&_sort=-_lastUpdated&_count=5&_cursor=x');
    const b = searchScope('Task', '_sort=-_lastUpdated&_format=json&status=requested&_offset=3');
    expect(a).toBe(b);
    expect(searchScope('Task', 'status=requested&_sort=_lastUpdated')).not.toBe(a);
    expect(searchScope('ServiceRequest', 'status=requested&_sort=-_lastUpdated')).not.toBe(a);
  });
});

describe('pageQuery', () => {
  it('puts a cursor in place of the offset', () => {
    const next = pageQuery('status=requested&_count=10&_offset=20&_cursor=old', {
      count: 10,
      cursor: 'new',
    });
    expect(next.toString()).toBe('status=requested&_count=10&_cursor=new');
    expect(pageQuery('status=requested&_cursor=old', { count: 5 }).toString()).toBe(
      'status=requested&_count=5',
    );
  });

  it('keeps the search and sets _count/_offset', () => {
    const next = pageQuery('status=requested&_count=10&_offset=0&_include=Task:focus', {
      offset: 10,
      count: 10,
    });
    expect(next.toString()).toBe('status=requested&_include=Task%3Afocus&_count=10&_offset=10');
  });
});
