// The visibility rule three ways on the same rows of a real PostgreSQL table: this module's SQL
// predicate, its in-memory twin canSee, and the store's own visibilityFilter. They must agree.
import { DataSource } from 'typeorm';
import { openTestDataSource } from '@carerelay/testing';
import { visibilityFilter } from '../store/visibility';
import { SqlParams } from '../store/sql';
import type { RequestActor } from './request-actor';
import { canSee, visibilityPredicate } from './visibility';

jest.setTimeout(60_000);

const ORGS = ['h1', 'h2', 'c1', 'c2', 'x'];
let db: { dataSource: DataSource; schema: string; drop: () => Promise<void> };
interface Row {
  id: number;
  requester_org: string | null;
  owner_org: string | null;
  other_orgs: string[];
}
const rows: Row[] = [];

// A small deterministic PRNG so a failure can be replayed.
let seed = 42;
const rand = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
};
const maybeOrg = () => (rand(4) === 0 ? null : ORGS[rand(ORGS.length)]);

beforeAll(async () => {
  db = await openTestDataSource('visibility', { entities: [], migrations: [] });
  await db.dataSource.query(
    `CREATE TABLE "${db.schema}".resources (id int PRIMARY KEY, requester_org text, owner_org text, other_orgs text[] NOT NULL DEFAULT '{}')`,
  );
  for (let id = 0; id < 400; id++) {
    const others = ORGS.filter(() => rand(3) === 0);
    rows.push({ id, requester_org: maybeOrg(), owner_org: maybeOrg(), other_orgs: others });
  }
  await db.dataSource.query(
    `INSERT INTO "${db.schema}".resources SELECT * FROM jsonb_to_recordset($1::jsonb)
       AS t(id int, requester_org text, owner_org text, other_orgs text[])`,
    [JSON.stringify(rows)],
  );
});

afterAll(async () => {
  await db?.drop();
});

const actors: RequestActor[] = [
  ...ORGS.flatMap((org) =>
    (['ehr', 'cbo', 'coordinator', 'platform'] as const).map((role) => ({
      clientId: `${role}-${org}`,
      organizationId: org,
      role,
      scopes: [],
    })),
  ),
  { clientId: 'empty', organizationId: '', role: 'ehr', scopes: [] },
];

it.each(actors.map((a) => [`${a.role}:${a.organizationId || '(none)'}`, a] as const))(
  'SQL predicate, canSee and the store’s filter agree for %s',
  async (_name, actor) => {
    const expected = rows
      .filter((r) =>
        canSee(actor, {
          requesterOrg: r.requester_org,
          ownerOrg: r.owner_org,
          otherOrgs: r.other_orgs,
        }),
      )
      .map((r) => r.id);
    const mine = visibilityPredicate(actor, { alias: 'r' });
    const viaPredicate = (
      (await db.dataSource.query(
        `SELECT id FROM "${db.schema}".resources r WHERE ${mine.sql} ORDER BY id`,
        mine.params,
      )) as { id: number }[]
    ).map((r) => r.id);
    const params = new SqlParams();
    const theirs = visibilityFilter(actor, 'r', params);
    const viaStore = (
      (await db.dataSource.query(
        `SELECT id FROM "${db.schema}".resources r WHERE ${theirs} ORDER BY id`,
        params.values,
      )) as { id: number }[]
    ).map((r) => r.id);
    expect(viaPredicate).toEqual(expected);
    if (actor.organizationId !== '') expect(viaStore).toEqual(expected);
  },
);
