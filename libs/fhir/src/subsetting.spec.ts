import type { Task } from '@medplum/fhirtypes';
import { FhirError } from './operation-outcome';
import { parseSubsetting, subsetResource, SUBSETTED } from './subsetting';

const task = (): Task => ({
  resourceType: 'Task',
  id: 't1',
  meta: { versionId: '2' },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Referral</div>' },
  status: 'requested',
  intent: 'order',
  priority: 'routine',
  description: 'Food pantry application',
  owner: { reference: 'Organization/cbo-a' },
  note: [{ text: 'Call after 5 pm' }],
});

const statusOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as FhirError).status;
  }
  return undefined;
};

describe('parseSubsetting', () => {
  it('reads _summary and _elements from a query', () => {
    expect(parseSubsetting(new URLSearchParams('_summary=true'))).toEqual({ summary: 'true' });
    expect(parseSubsetting({ _elements: 'status, owner' })).toEqual({
      elements: ['status', 'owner'],
    });
    expect(parseSubsetting({ _summary: 'count' })).toEqual({});
    expect(parseSubsetting({})).toEqual({});
  });

  it.each([
    ['_summary=maybe'],
    ['_summary=true&_summary=data'],
    ['_elements=status,Task.owner'],
    ['_elements=status&_summary=true'],
  ])('refuses %s with a 400', (query) => {
    expect(statusOf(() => parseSubsetting(new URLSearchParams(query)))).toBe(400);
  });
});

describe('subsetResource', () => {
  // R4's Task definition: status and intent are mandatory; description and owner are summary
  // elements; text, priority and note are not.
  it('_summary=true keeps the summary and mandatory elements, tagged SUBSETTED', () => {
    const out = subsetResource(task(), { summary: 'true' });
    expect(Object.keys(out).sort()).toEqual(
      ['description', 'id', 'intent', 'meta', 'owner', 'resourceType', 'status'].sort(),
    );
    expect(out.meta?.tag).toEqual([SUBSETTED]);
    expect(out.meta?.versionId).toBe('2');
  });

  it('_summary=text keeps text and the mandatory elements', () => {
    const out = subsetResource(task(), { summary: 'text' });
    expect(Object.keys(out).sort()).toEqual(
      ['id', 'intent', 'meta', 'resourceType', 'status', 'text'].sort(),
    );
  });

  it('_summary=data drops only the narrative', () => {
    const { text: _text, ...rest } = task();
    const out = subsetResource(task(), { summary: 'data' });
    expect(out).toEqual({ ...rest, meta: { versionId: '2', tag: [SUBSETTED] } });
  });

  it('_elements keeps what is named, plus the mandatory elements', () => {
    const out = subsetResource(task(), { elements: ['note'] });
    expect(out).toEqual({
      resourceType: 'Task',
      id: 't1',
      meta: { versionId: '2', tag: [SUBSETTED] },
      status: 'requested',
      intent: 'order',
      note: [{ text: 'Call after 5 pm' }],
    });
  });

  it('a choice element is kept under its typed name, and nothing is tagged when nothing is left out', () => {
    const observation = {
      resourceType: 'Observation' as const,
      id: 'o1',
      status: 'final' as const,
      code: { text: 'Hunger' },
      valueString: 'yes',
    };
    expect(subsetResource(observation, { elements: ['value'] })).toEqual(observation);
    expect(subsetResource(task(), {})).toEqual(task());
  });
});
