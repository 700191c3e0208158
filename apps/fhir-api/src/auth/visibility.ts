import type { RequestActor } from './request-actor';

/**
 * Who may see which resource (issue 3 item 7). Every request acts for one organization:
 *
 *  - ehr: what its organization requested or sent (`requester_org`);
 *  - cbo: what is owned by (`owner_org`) or otherwise addressed to (`other_orgs`) its organization;
 *  - coordinator and platform: everything.
 *
 * The columns are the store's (apps/fhir-api/src/store/visibility.ts, `organizationsOf`):
 *
 *  - `requester_org text`   the organization that sent it (Task/ServiceRequest requester, else
 *                           the organization of the client that created it; kept on updates);
 *  - `owner_org text`       who it is addressed to (Task.owner, ServiceRequest.performer);
 *  - `other_orgs text[]`    every other Organization the resource references.
 *
 * This is the same rule as the store's `visibilityFilter`, plus an in-memory twin (`canSee`) and
 * options for other aliases/columns/parameter styles. A resource nobody is recorded for is visible
 * to coordinators and the platform only. What a client may not see must answer 404 and must not
 * appear through search, _include, _history or vread.
 */

/** Same shape as the store's ResourceOrganizations (every field optional here). */
export interface InvolvedOrganizations {
  requesterOrg?: string | null;
  ownerOrg?: string | null;
  otherOrgs?: readonly string[] | null;
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
  switch (actor.role) {
    case 'ehr':
      return involved.requesterOrg === org;
    case 'cbo':
      return involved.ownerOrg === org || (involved.otherOrgs ?? []).includes(org);
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
  columns?: { requesterOrg?: string; ownerOrg?: string; otherOrgs?: string };
  /** A parameter collector (the store's SqlParams): when given, `$n` comes from `params.add`. */
  params?: { add(value: unknown): string };
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
 * The SQL condition that keeps only rows `actor` may see. Use it in every read, vread, history,
 * search and _include query: `WHERE ... AND ${sql}` with `params` appended to the query's own
 * parameters (or pass `options.params` to number them with your collector).
 */
export function visibilityPredicate(
  actor: RequestActor,
  options: VisibilityPredicateOptions = {},
): SqlFragment {
  const constant = (value: 'TRUE' | 'FALSE'): SqlFragment => ({
    sql: `(${value})`,
    params: [],
    namedSql: `(${value})`,
    namedParams: {},
  });
  if (seesEverything(actor)) return constant('TRUE');
  const org = actor.organizationId;
  if (!org || (actor.role !== 'ehr' && actor.role !== 'cbo')) return constant('FALSE');
  const n = options.firstParam ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new Error(`invalid firstParam ${n}`);
  const placeholder = options.params ? options.params.add(org) : `$${n}`;
  const requester = column(options.alias, options.columns?.requesterOrg ?? 'requester_org');
  const owner = column(options.alias, options.columns?.ownerOrg ?? 'owner_org');
  const others = column(options.alias, options.columns?.otherOrgs ?? 'other_orgs');
  const build = (p: string) =>
    actor.role === 'ehr' ? `(${requester} = ${p})` : `(${owner} = ${p} OR ${p} = ANY(${others}))`;
  return {
    sql: build(placeholder),
    params: options.params ? [] : [org],
    namedSql: build(':visibilityOrg'),
    namedParams: { visibilityOrg: org },
  };
}
