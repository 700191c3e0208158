// Paging and polling while the data changes, on the real server: a client (fhir-kit-client) walks
// the next links of a search while another client creates and deletes resources between its
// pages, and none is skipped or shown twice (keyset cursors); a poller asking for
// `_lastUpdated=gt<last seen>` sees a slow writer's change that committed after a faster one it
// had already seen, exactly once. The same for `_history`: a `_since` poller sees the slow
// writer's version exactly once, and versions written between two history pages make none
// skipped or repeated.
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Organization, Resource } from '@medplum/fhirtypes';
import { OutboxWriter } from '@carerelay/messaging';
import { DEV_ACTOR } from '../src/http/dev-actor.guard';
import { ResourceStore } from '../src/store/resource.store';
import type { StoreTransaction } from '../src/store/store.transaction';
import { fhirKitClient, http, startTestFhirApi, type TestFhirApi } from './fhir-api.harness';

const matchIds = (bundle: Bundle): string[] =>
  (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!);
const linkOf = (bundle: Bundle, relation: string): string | undefined =>
  bundle.link?.find((l) => l.relation === relation)?.url;

describe('search paging and _lastUpdated polling while the data changes', () => {
  jest.setTimeout(180_000);
  let api: TestFhirApi;

  beforeAll(async () => {
    api = await startTestFhirApi();
  });

  afterAll(async () => {
    await api?.close();
  });

  const organization = (system: string, name: string): Organization => ({
    resourceType: 'Organization',
    identifier: [{ system, value: randomUUID() }],
    name,
  });

  /** Polls on, as a poller does, until `expected` have come (or a bound), then once more. */
  const pollingUntil =
    (seen: readonly string[], poll: () => Promise<void>) => async (expected: number) => {
      for (let i = 0; i < 30 && seen.length < expected; i++) {
        await poll();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await poll();
    };

  /** A second writer on its own connection, through the store's own write path (saveVersion). */
  function slowWriter(
    system: string,
    steps: { before?: (tx: StoreTransaction) => Promise<unknown>; writeFirst: boolean },
  ) {
    const store = new ResourceStore(api.db, new OutboxWriter(api.schema, 'fhir-api-test'), {
      schema: api.schema,
      localBaseUrls: () => [],
      attempts: 1,
    });
    let started!: () => void;
    let release!: () => void;
    const isStarted = new Promise<void>((resolve) => (started = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const write = (tx: StoreTransaction) =>
      tx.write(
        { ...organization(system, 'slow'), id: randomUUID() } as Resource,
        'POST',
        undefined,
      );
    const done = store.run(DEV_ACTOR, async (tx) => {
      await steps.before?.(tx);
      const stored = steps.writeFirst ? await write(tx) : undefined;
      started();
      await released;
      return stored ?? (await write(tx));
    });
    return { isStarted, release, done };
  }

  describe('keyset paging', () => {
    const client = () => fhirKitClient(api.baseUrl);

    /** Twelve organizations, named so that name order is not creation order. */
    async function seed(system: string): Promise<string[]> {
      const ids: string[] = [];
      for (const n of [7, 2, 11, 0, 5, 9, 3, 10, 1, 6, 8, 4]) {
        const created = await client().create({
          resourceType: 'Organization',
          body: organization(system, `M-${String(n).padStart(2, '0')}`),
        });
        ids.push(created.id!);
      }
      return ids;
    }

    it.each([
      ['the default order', {}],
      ['_sort=-_lastUpdated', { _sort: '-_lastUpdated' }],
      ['_sort=name', { _sort: 'name' }],
      ['_sort=-name,_id', { _sort: '-name,_id' }],
    ])(
      '%s: another client creating and deleting between pages makes none skipped or repeated',
      async (_label, sort: Record<string, string>) => {
        const system = `urn:test:keyset:${randomUUID()}`;
        const original = await seed(system);
        const reader = client();
        const writer = client();
        const seen: string[] = [];
        const deletedUnseen = new Set<string>();
        let page: Bundle | undefined = await reader.search({
          resourceType: 'Organization',
          searchParams: { identifier: `${system}|`, _count: '3', ...sort },
        });
        for (let round = 0; page; round++) {
          seen.push(...matchIds(page));
          // Between pages: delete one row already seen and one not yet seen (one of the last
          // created); create one row that sorts first and one that sorts last. Offset paging
          // skips after the first (the rows move up) and repeats after the others.
          const seenOriginal = original.find((id) => seen.includes(id));
          if (seenOriginal && round < 3)
            await writer.delete({ resourceType: 'Organization', id: seenOriginal });
          // Chosen beforehand: a row the reader skipped must not be the one deleted.
          const unseen = [original[11], original[10], original[9]][round];
          if (unseen && !seen.includes(unseen)) {
            await writer.delete({ resourceType: 'Organization', id: unseen });
            deletedUnseen.add(unseen);
          }
          for (const name of [`A-new-${round}`, `Z-new-${round}`])
            await writer.create({ resourceType: 'Organization', body: organization(system, name) });
          page = await reader.nextPage({ bundle: page });
        }
        expect(new Set(seen).size).toBe(seen.length);
        const mustSee = original.filter((id) => !deletedUnseen.has(id));
        expect(mustSee.filter((id) => !seen.includes(id))).toEqual([]);
        for (const id of deletedUnseen) expect(seen).not.toContain(id);
      },
    );

    it('previous and last links walk the same order backwards; first starts again', async () => {
      const system = `urn:test:keyset:${randomUUID()}`;
      await seed(system);
      const reader = client();
      const forward: string[] = [];
      let page: Bundle | undefined = await reader.search({
        resourceType: 'Organization',
        searchParams: { identifier: `${system}|`, _count: '5', _sort: 'name' },
      });
      const firstPage = page;
      for (; page; page = await reader.nextPage({ bundle: page })) forward.push(...matchIds(page));
      expect(forward).toHaveLength(12);
      expect(linkOf(firstPage, 'previous')).toBeUndefined();
      const last = (await http(linkOf(firstPage, 'last')!, 'GET', '')).body as Bundle;
      expect(linkOf(last, 'next')).toBeUndefined();
      const backward: string[] = [];
      for (page = last; page; page = await reader.prevPage({ bundle: page }))
        backward.unshift(...matchIds(page));
      expect(backward).toEqual(forward);
      const again = (await http(linkOf(last, 'first')!, 'GET', '')).body as Bundle;
      expect(matchIds(again)).toEqual(forward.slice(0, 5));
    });

    it('a cursor is opaque: no sort value in it, a changed or foreign one is a 400 OperationOutcome', async () => {
      const system = `urn:test:keyset:${randomUUID()}`;
      await seed(system);
      const first = await http(
        api.baseUrl,
        'GET',
        `/Organization?identifier=${encodeURIComponent(`${system}|`)}&_sort=name&_count=4`,
      );
      const next = new URL(linkOf(first.body, 'next')!);
      const cursor = next.searchParams.get('_cursor')!;
      // The page ends on M-03: the cursor does not carry it readably, in any segment.
      const decoded = cursor
        .split('.')
        .map((part) => Buffer.from(part, 'base64url').toString('latin1'))
        .join('|');
      expect(decoded.toLowerCase()).not.toContain('m-03');
      const at = (query: URLSearchParams) => http(api.baseUrl, 'GET', `/Organization?${query}`);
      expect((await at(next.searchParams)).status).toBe(200);

      const tampered = new URLSearchParams(next.searchParams);
      const flip = cursor.length - 5;
      tampered.set(
        '_cursor',
        cursor.slice(0, flip) + (cursor[flip] === 'A' ? 'B' : 'A') + cursor.slice(flip + 1),
      );
      const foreign = new URLSearchParams(next.searchParams);
      foreign.set('identifier', 'urn:test:keyset:another|');
      const withOffset = new URLSearchParams(next.searchParams);
      withOffset.set('_offset', '3');
      const garbage = new URLSearchParams(next.searchParams);
      garbage.set('_cursor', 'not-a-cursor');
      for (const query of [tampered, foreign, withOffset, garbage]) {
        const answer = await at(query);
        expect([query.get('_cursor')?.slice(0, 12), answer.status]).toEqual([
          query.get('_cursor')?.slice(0, 12),
          400,
        ]);
        expect(answer.body.resourceType).toBe('OperationOutcome');
        expect(answer.text.toLowerCase()).not.toContain('m-0');
      }
    });

    it('a cursor handed to another organization shows it only what it may see', async () => {
      const system = `urn:test:keyset:${randomUUID()}`;
      const as = (actor: string) => ({ 'x-dev-actor': actor });
      const own: Record<string, string[]> = { 'ehr:ehr-a': [], 'ehr:ehr-b': [] };
      for (const actor of Object.keys(own))
        for (let i = 0; i < 4; i++) {
          const created = await http(
            api.baseUrl,
            'POST',
            '/Patient',
            {
              resourceType: 'Patient',
              identifier: [{ system, value: `${actor}-${i}` }],
            } as Resource,
            as(actor),
          );
          expect(created.status).toBe(201);
          own[actor].push(created.body.id);
        }
      const query = `/Patient?identifier=${encodeURIComponent(`${system}|`)}&_count=2`;
      const pageA = await http(api.baseUrl, 'GET', query, undefined, as('ehr:ehr-a'));
      expect(matchIds(pageA.body)).toEqual(own['ehr:ehr-a'].slice(0, 2));
      // ehr-b follows ehr-a's next link: the cursor only says where to start, within what ehr-b sees.
      const borrowed = await http(
        linkOf(pageA.body, 'next')!,
        'GET',
        '',
        undefined,
        as('ehr:ehr-b'),
      );
      expect(borrowed.status).toBe(200);
      expect(matchIds(borrowed.body).every((id: string) => own['ehr:ehr-b'].includes(id))).toBe(
        true,
      );
    });
  });

  describe('_lastUpdated polling', () => {
    /** A poller of one identifier system: `poll()` asks for what changed after the last seen. */
    function poller(system: string) {
      const seen: string[] = [];
      let since = '2000-01-01T00:00:00.000Z';
      const poll = async () => {
        let url: string | undefined =
          `${api.baseUrl}/Organization?identifier=${encodeURIComponent(`${system}|`)}` +
          `&_lastUpdated=gt${since}&_sort=_lastUpdated&_count=50`;
        while (url) {
          const page = (await http(url, 'GET', '')).body as Bundle;
          for (const entry of page.entry ?? []) {
            seen.push(entry.resource!.id!);
            const at = entry.resource!.meta!.lastUpdated!;
            if (at > since) since = at;
          }
          url = linkOf(page, 'next');
        }
      };
      return { seen, poll, pollUntil: pollingUntil(seen, poll) };
    }

    it('a change committed late, stamped before one the poller saw, is returned once', async () => {
      const system = `urn:test:poll:${randomUUID()}`;
      const slow = slowWriter(system, { writeFirst: true });
      await slow.isStarted;
      const fast = await http(api.baseUrl, 'POST', '/Organization', organization(system, 'fast'));
      expect(fast.status).toBe(201);
      const { seen, poll, pollUntil } = poller(system);
      await poll(); // the fast change is committed, the slow one (stamped earlier) is not yet
      slow.release();
      const slowStored = await slow.done;
      expect(slowStored.lastUpdated < fast.body.meta.lastUpdated).toBe(true);
      await pollUntil(2);
      expect([...seen].sort()).toEqual([fast.body.id, slowStored.id].sort());
    });

    it('a newest-first list shows a change at once, while another writer still holds its transaction open', async () => {
      const system = `urn:test:newest:${randomUUID()}`;
      const slow = slowWriter(system, { writeFirst: true });
      await slow.isStarted;
      try {
        const fast = await http(api.baseUrl, 'POST', '/Organization', organization(system, 'fast'));
        expect(fast.status).toBe(201);
        const list = await http(
          api.baseUrl,
          'GET',
          `/Organization?identifier=${encodeURIComponent(`${system}|`)}&_sort=-_lastUpdated`,
        );
        expect(((list.body as Bundle).entry ?? []).map((e) => e.resource!.id)).toEqual([
          fast.body.id,
        ]);
        // An oldest-first walk still waits for the open transaction (the poller's horizon).
        const walk = await http(
          api.baseUrl,
          'GET',
          `/Organization?identifier=${encodeURIComponent(`${system}|`)}&_sort=_lastUpdated`,
        );
        expect((walk.body as Bundle).entry ?? []).toEqual([]);
      } finally {
        slow.release();
        await slow.done;
      }
    });

    it('a transaction that began before a poll and writes after it is returned once', async () => {
      // Its transaction began (and read) before the fast write and the poll, but took its
      // transaction id only when it wrote: its stamp must not be its start.
      const system = `urn:test:poll:${randomUUID()}`;
      const slow = slowWriter(system, {
        before: (tx) => tx.current('Organization', randomUUID()),
        writeFirst: false,
      });
      await slow.isStarted;
      const fast = await http(api.baseUrl, 'POST', '/Organization', organization(system, 'fast'));
      expect(fast.status).toBe(201);
      const { seen, poll, pollUntil } = poller(system);
      await poll();
      expect(seen).toEqual([fast.body.id]); // a reader in flight holds no poll back
      slow.release();
      const slowStored = await slow.done;
      await pollUntil(2);
      expect([...seen].sort()).toEqual([fast.body.id, slowStored.id].sort());
    });
  });

  describe('_history polling and paging', () => {
    const key = (entry: BundleEntry) => `${entry.resource!.id}/${entry.resource!.meta!.versionId}`;
    const systemOf = (entry: BundleEntry) =>
      (entry.resource as Organization | undefined)?.identifier?.[0]?.system;

    /**
     * A poller of `Organization/_history?_since=` (the versions of one identifier system): each
     * poll walks the next links; the next `_since` is the Bundle's meta.lastUpdated, where the
     * server gives it, else (as a client would) the last version seen.
     */
    function historyPoller(system: string, from: string) {
      const seen: string[] = [];
      let since = from;
      const poll = async () => {
        let url: string | undefined =
          `${api.baseUrl}/Organization/_history?_since=${encodeURIComponent(since)}&_count=2`;
        let next: string | undefined;
        let latest = since;
        while (url) {
          const page = (await http(url, 'GET', '')).body as Bundle;
          next ??= page.meta?.lastUpdated;
          for (const entry of page.entry ?? []) {
            if (entry.response!.lastModified! > latest) latest = entry.response!.lastModified!;
            if (systemOf(entry) === system) seen.push(key(entry));
          }
          url = linkOf(page, 'next');
        }
        since = next ?? latest;
      };
      return { seen, poll, pollUntil: pollingUntil(seen, poll) };
    }

    const now = async () =>
      (
        (await api.db.query(`SELECT to_char(now() AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS t`)) as { t: string }[]
      )[0].t;

    it.each([
      ['a change committed late, stamped before one the poller saw', { writeFirst: true }],
      [
        'a transaction that began before a poll and writes after it',
        {
          before: (tx: StoreTransaction) => tx.current('Organization', randomUUID()),
          writeFirst: false,
        },
      ],
    ])('%s: its version comes once in a _history?_since poll', async (_label, steps) => {
      const system = `urn:test:history-poll:${randomUUID()}`;
      const from = await now();
      const slow = slowWriter(system, steps);
      await slow.isStarted;
      const fast = await http(api.baseUrl, 'POST', '/Organization', organization(system, 'fast'));
      expect(fast.status).toBe(201);
      const { seen, poll, pollUntil } = historyPoller(system, from);
      await poll();
      slow.release();
      const slowStored = await slow.done;
      await pollUntil(2);
      expect([...seen].sort()).toEqual([`${fast.body.id}/1`, `${slowStored.id}/1`].sort());
    });

    it.each([
      ['instance history', (id: string) => `Organization/${id}/_history?_count=3`],
      [
        'type history with _since',
        (_id: string, from: string) =>
          `Organization/_history?_since=${encodeURIComponent(from)}&_count=3`,
      ],
    ])(
      '%s: versions written between pages make none skipped or repeated',
      async (_label, pathOf: (id: string, from: string) => string) => {
        const system = `urn:test:history-paging:${randomUUID()}`;
        const from = await now();
        const created = await http(api.baseUrl, 'POST', '/Organization', organization(system, 'v'));
        const id = created.body.id as string;
        const update = (n: number) =>
          http(api.baseUrl, 'PUT', `/Organization/${id}`, {
            ...created.body,
            name: `v${n}`,
            meta: undefined,
          });
        for (let n = 2; n <= 8; n++) expect((await update(n)).status).toBe(200);
        const seen: string[] = [];
        let url: string | undefined = `${api.baseUrl}/${pathOf(id, from)}`;
        for (let n = 9; url; n++) {
          const page = (await http(url, 'GET', '')).body as Bundle;
          for (const entry of page.entry ?? [])
            if (systemOf(entry) === system) seen.push(key(entry));
          // Between pages, newer versions: offset paging would show the last ones again.
          if (n < 12) expect((await update(n)).status).toBe(200);
          url = linkOf(page, 'next');
        }
        // Newest first, each of the versions there when the walk began exactly once.
        expect(seen).toEqual([8, 7, 6, 5, 4, 3, 2, 1].map((v) => `${id}/${v}`));
      },
    );
  });
});
