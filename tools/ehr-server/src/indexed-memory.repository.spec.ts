import { parseSearchRequest } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '@carerelay/fhir';
import { IndexedMemoryRepository } from './indexed-memory.repository';

const SYSTEM = 'https://carerelay.example/fhir/Procedure';

/** The same writes on both repositories (Medplum's plain one is the reference). */
async function twins() {
  loadFhirDefinitions();
  const plain = new MemoryRepository();
  const indexed = new IndexedMemoryRepository();
  const both = async <T>(write: (repo: MemoryRepository) => Promise<T>) => [
    await write(plain),
    await write(indexed),
  ];
  return { plain, indexed, both };
}

const idsOf = (bundle: { entry?: Array<{ resource?: Resource }> }) =>
  (bundle.entry ?? []).map((e) => e.resource?.id);

describe('the stand-in EHR repository with indexes', () => {
  afterEach(() => jest.useRealTimers());

  it('answers identifier, patient and _lastUpdated searches exactly as the full scan does', async () => {
    const { plain, indexed, both } = await twins();
    // Both repositories stamp each write with the clock: pin it, so that a write has the same
    // time in both, and let every third write share a millisecond with the one before, so that
    // `_sort=_lastUpdated` meets ties (Medplum keeps its own order for them).
    const start = Date.parse('2026-01-01T00:00:00.000Z');
    let tick = 0;
    const at = (n: number) => new Date(start + n).toISOString();
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'], now: start });
    const writeAt = (n: number) => jest.setSystemTime(start + n);
    const ids: string[] = [];
    let middle = '';
    for (let i = 0; i < 30; i++) {
      if (i === 15) {
        // A moment between two writes.
        tick += 5;
        middle = at(tick);
        tick += 5;
      }
      if (i % 3 !== 0) tick += 1;
      writeAt(tick);
      const id = `p${i}`;
      ids.push(id);
      await both((repo) =>
        repo.createResource({
          resourceType: 'Procedure',
          id,
          status: i % 3 === 0 ? 'completed' : 'in-progress',
          subject: { reference: `Patient/pat${i % 4}` },
          identifier: [
            { system: SYSTEM, value: `v${i}` },
            // The same value under another system: only system|value tells them apart.
            { system: 'urn:other', value: `v${(i + 1) % 30}` },
          ],
        } as Resource),
      );
    }
    // Later writes: an identifier changed (the old one must no longer match), one deleted; the
    // change ties with the last create.
    writeAt(tick);
    await both((repo) =>
      repo.updateResource({
        resourceType: 'Procedure',
        id: 'p3',
        status: 'completed',
        subject: { reference: 'Patient/pat9' },
        identifier: [{ system: SYSTEM, value: 'renamed' }],
      } as Resource),
    );
    await both((repo) => repo.deleteResource('Procedure', 'p4'));

    const queries = [
      `identifier=${SYSTEM}|v7`,
      'identifier=urn:other|v7',
      'identifier=v7',
      `identifier=${SYSTEM}|v3`,
      `identifier=${SYSTEM}|renamed`,
      `identifier=${SYSTEM}|v4`,
      'identifier=nothing',
      'patient=Patient/pat1',
      'subject=Patient/pat9&status=completed',
      'patient=Patient/pat2&_sort=-_lastUpdated&_count=3',
      `_lastUpdated=gt${middle}&_sort=_lastUpdated`,
      `_lastUpdated=ge${middle}&status=in-progress&_count=2&_offset=1`,
      'status=completed&_sort=_lastUpdated',
    ];
    for (const query of queries) {
      const request = parseSearchRequest(`Procedure?${query}`);
      const expected = await plain.search(request);
      const actual = await indexed.search(parseSearchRequest(`Procedure?${query}`));
      expect({ query, ids: idsOf(actual), total: actual.total }).toEqual({
        query,
        ids: idsOf(expected),
        total: expected.total,
      });
    }
    // Not a test that passes on empty answers.
    expect(
      idsOf(await indexed.search(parseSearchRequest(`Procedure?identifier=${SYSTEM}|v7`))),
    ).toEqual(['p7']);
    expect(ids).toHaveLength(30);
  });

  it('lets a conditional create find what it looks for, and leaves the other types whole', async () => {
    const { indexed } = await twins();
    const procedure = {
      resourceType: 'Procedure',
      status: 'completed',
      subject: { reference: 'Patient/x' },
      identifier: [{ system: SYSTEM, value: 'once' }],
    } as Resource;
    const search = () => parseSearchRequest(`Procedure?identifier=${SYSTEM}|once`);
    const first = await indexed.conditionalCreate(procedure, search());
    const second = await indexed.conditionalCreate(procedure, search());
    expect(second.resource.id).toBe(first.resource.id);
    expect((await indexed.search(parseSearchRequest('Procedure'))).total).toBe(1);
    await indexed.createResource({
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
    } as Resource);
    expect((await indexed.search(parseSearchRequest('Task?identifier=once'))).total).toBe(0);
    expect((await indexed.search(parseSearchRequest('Task'))).total).toBe(1);
  });
});
