import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { sqlStateOf } from './infrastructure-error';

/**
 * First in a statement whose best plan depends on its values (a search's filters: one value
 * matches a handful of rows, another half the table): it is never prepared, so PostgreSQL plans
 * it for the values of each execution. A prepared statement's plan may become a generic one
 * after five executions; one chosen while the tables were nearly empty made the conditional
 * creates' lookup 20 times slower once they had grown.
 */
export const PLANNED_PER_EXECUTION = '/* planned per execution */ ';

/**
 * Which statement texts run as named prepared statements. An unnamed statement is parsed,
 * analysed and planned by PostgreSQL on every execution and its whole text sent each time; the
 * services run the same few dozen texts (a resource version's write is one statement of seven
 * CTEs) thousands of times a minute. A text is prepared once it has come back (`after`
 * sightings), so one-off statements (DDL, a search of an unusual shape) stay unnamed; at most
 * `maxPrepared` texts per process, since each connection that runs one keeps its plan for as
 * long as it lives.
 */
export class StatementNames {
  private readonly sightings = new Map<string, number>();
  private readonly names = new Map<string, string>();
  private readonly refused = new Set<string>();

  constructor(
    private readonly options: { after: number; maxPrepared: number; maxTracked: number } = {
      after: 2,
      maxPrepared: 400,
      maxTracked: 4_000,
    },
  ) {}

  /** The name to prepare `text` under, or undefined to run it unnamed this time. */
  nameFor(text: string): string | undefined {
    if (text.startsWith(PLANNED_PER_EXECUTION)) return undefined;
    const name = this.names.get(text);
    if (name !== undefined || this.names.size >= this.options.maxPrepared) return name;
    if (this.refused.has(text)) return undefined;
    const seen = (this.sightings.get(text) ?? 0) + 1;
    if (seen < this.options.after) {
      // Full of one-off texts: start counting afresh, so a text that first runs late still
      // gets its name.
      if (seen === 1 && this.sightings.size >= this.options.maxTracked) this.sightings.clear();
      this.sightings.set(text, seen);
      return undefined;
    }
    this.sightings.delete(text);
    // A digest: the same text gets the same name on every connection, and names stay within
    // PostgreSQL's 63 bytes.
    const named = `cr_${createHash('sha1').update(text).digest('base64url')}`;
    this.names.set(text, named);
    return named;
  }

  /** The server will not run this text prepared (its plan went stale): unnamed from now on. */
  refuse(text: string): void {
    this.names.delete(text);
    this.refused.add(text);
  }

  get prepared(): number {
    return this.names.size;
  }
}

/**
 * PostgreSQL refuses a prepared statement whose result columns changed under it (a migration of
 * another instance altered the table): 0A000 "cached plan must not change result type".
 */
const isStalePlan = (error: unknown) =>
  sqlStateOf(error) === '0A000' &&
  /cached plan/.test(String((error as { message?: string }).message));

/**
 * A pg Client that runs parameterised statements through `names` (the pool's `Client` option).
 * TypeORM calls `query(text, values)`; other forms pass through unchanged. A statement refused
 * for a stale plan fails as it would have (its transaction is aborted anyway) and runs unnamed
 * from then on.
 */
export function preparingClient(names: StatementNames): typeof Client {
  return class PreparingClient extends Client {
    // pg's overloads, all of which end here; `any` as in its own declaration of the last one.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override query(config: any, values?: any, callback?: any): any {
      if (typeof config !== 'string' || !Array.isArray(values) || values.length === 0) {
        return super.query(config, values, callback);
      }
      const name = names.nameFor(config);
      if (name === undefined) return super.query(config, values, callback);
      const result = super.query({ name, text: config, values }, callback);
      if (result instanceof Promise) {
        return result.catch((error: unknown) => {
          if (isStalePlan(error)) names.refuse(config);
          throw error;
        });
      }
      return result;
    }
  };
}
