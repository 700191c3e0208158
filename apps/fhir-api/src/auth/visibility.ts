import type { RequestActor } from './request-actor';

/**
 * Who may see which resource (issue 3 item 7). Every request acts for one organization:
 *
 *  - ehr: what its organization requested or sent (`requester_org`), and anything that names
 *    it among the organizations involved (`orgs`);
 *  - cbo: what is owned by (`owner_org`) or addressed to (`orgs`) its organization;
 *  - coordinator and platform: everything.
 *
 * The store indexes, for every resource version, three columns:
 *
 *  - `requester_org text`  the organization that requested/sent it (Task.requester,
 *                          ServiceRequest.requester; for other resources the organization of the
 *                          client that created it, or of the referral it belongs to);
 *  - `owner_org text`      the organization it is addressed to (Task.owner, the performer);
 *  - `orgs text[]`         every organization it is addressed to or shared with (performer,
 *                          Consent.organization, and for resources that belong to a referral the
 *                          organizations of that referral).
 *
 * Organization ids are the logical ids (`Organization/<id>` → `<id>`). A resource nobody is
 * recorded for (all three empty) is visible to coordinators and the platform only. What a client
 * may not see must answer 404, and must not appear through search, _include, _history or vread:
 * apply the predicate to every one of those queries.
 */

export interface InvolvedOrganizations {
  requesterOrg?: string | null;
  ownerOrg?: string | null;
  orgs?: readonly string[] | null;
}

/** Resource types that are directory data, not patient data: every authenticated client may read them (scopes still apply). */
export const SHARED_RESOURCE_TYPES: readonly string[] = [
  'Organization',
  'HealthcareService',
  'Location',
];

export function isSharedResourceType(resourceType: string): boolean {
  return SHARED_RESOURCE_TYPES.includes(resourceType);
}

const seesEverything = (actor: RequestActor): boolean =>
  actor.role === 'coordinator' || actor.role === 'platform';

/** The in-memory twin of visibilityPredicate (same rule, same columns). */
export function canSee(actor: RequestActor, involved: InvolvedOrganizations): boolean {
  if (seesEverything(actor)) return true;
  const org = actor.organizationId;
  if (!org) return false;
  const named = (involved.orgs ?? []).includes(org);
  switch (actor.role) {
    case 'ehr':
      return involved.requesterOrg === org || named;
    case 'cbo':
      return involved.ownerOrg === org || named;
    default:
      return false;
  }
}

export interface VisibilityPredicateOptions {
  /** Table alias to qualify the columns with (`r` → `r.requester_org`). */
  alias?: string;
  /** Number of the first positional parameter (`$n`); default 1. */
  firstParam?: number;
  /** Column names, if the store's differ. */
  columns?: { requesterOrg?: string; ownerOrg?: string; orgs?: string };
}

export interface SqlFragment {
  /** A parenthesized boolean SQL expression with positional parameters ($n). */
  sql: string;
  params: unknown[];
  /** The same expression with a TypeORM named parameter (`:visibilityOrg`), for query builders. */
  namedSql: string;
  namedParams: Record<string, unknown>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/i;

function column(alias: string | undefined, name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`invalid column name ${name}`);
  if (alias !== undefined && !IDENTIFIER.test(alias)) throw new Error(`invalid alias ${alias}`);
  return alias ? `${alias}."${name}"` : `"${name}"`;
}

/**
 * The SQL condition that keeps only rows `actor` may see, over columns `requester_org text`,
 * `owner_org text` and `orgs text[]`. Use it in every read, vread, history, search and _include
 * query: `WHERE ... AND ${sql}` with `params` appended to the query's own parameters.
 */
export function visibilityPredicate(
  actor: RequestActor,
  options: VisibilityPredicateOptions = {},
): SqlFragment {
  if (seesEverything(actor))
    return { sql: '(TRUE)', params: [], namedSql: '(TRUE)', namedParams: {} };
  const org = actor.organizationId;
  const roleColumn =
    actor.role === 'ehr'
      ? (options.columns?.requesterOrg ?? 'requester_org')
      : actor.role === 'cbo'
        ? (options.columns?.ownerOrg ?? 'owner_org')
        : undefined;
  if (!org || !roleColumn)
    return { sql: '(FALSE)', params: [], namedSql: '(FALSE)', namedParams: {} };
  const own = column(options.alias, roleColumn);
  const orgs = column(options.alias, options.columns?.orgs ?? 'orgs');
  const n = options.firstParam ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new Error(`invalid firstParam ${n}`);
  return {
    sql: `(${own} = $${n} OR $${n} = ANY(${orgs}))`,
    params: [org],
    namedSql: `(${own} = :visibilityOrg OR :visibilityOrg = ANY(${orgs}))`,
    namedParams: { visibilityOrg: org },
  };
}
