import {
  BadRequestException,
  Injectable,
  OnApplicationBootstrap,
  UnprocessableEntityException,
} from '@nestjs/common';
import type { CohortQueryDto } from '../http/analytics-query.dto';
import type { BreakdownDimension, EquityDimension } from './dimensions';
import { selectCohort } from './cross-suppression';
import { FactColumns, type FactDimension } from './fact-columns';
import {
  aggregateAll,
  aggregateBy,
  breakdownOf,
  equityOf,
  ReferenceGroupError,
  summaryOf,
} from './measures';
import { unmetNeed } from './unmet-need';
import { CohortFilter, MeasuresRepository, type ReadSnapshot } from './measures.repository';

const DAY = 86_400_000;
const MAX_PERIOD_DAYS = 3660;

/**
 * Turns a query into a cohort and the cohort into measures; censoring is at the time of asking.
 * The read model's referrals are held as typed columns, brought up to date from PostgreSQL before
 * every answer (only the referrals changed since the last read), so a query over a million
 * referrals scans numbers instead of joining tables.
 */
@Injectable()
export class MeasuresService implements OnApplicationBootstrap {
  private readonly store = new FactColumns();
  private snapshot: ReadSnapshot | null = null;
  private refreshing?: Promise<void>;

  constructor(private readonly repository: MeasuresRepository) {}

  /** Loads the columns at start, so that the first coordinator does not wait for them. */
  onApplicationBootstrap(): void {
    // A failure here is retried by the first query's own refresh.
    this.refresh().catch(() => undefined);
  }

  /** Reads what changed; concurrent callers share one read that began after they asked. */
  async refresh(): Promise<void> {
    const pending = this.refreshing;
    const next = (async () => {
      if (pending) await pending.catch(() => undefined);
      const { snapshot } = await this.repository.changes(this.snapshot, (rows) => {
        for (const row of rows) this.store.upsert(row);
      });
      this.snapshot = snapshot;
    })();
    this.refreshing = next;
    try {
      await next;
    } finally {
      if (this.refreshing === next) this.refreshing = undefined;
    }
  }

  private async cohort(
    filter: CohortFilter,
    by: BreakdownDimension | null,
  ): Promise<{ rows: Uint32Array; hidden: boolean; forced: Set<string> }> {
    await this.refresh();
    const { from, to, ...filters } = filter;
    const equal = Object.fromEntries(
      Object.entries(filters).filter(([, v]) => v !== undefined),
    ) as Partial<Record<FactDimension, string>>;
    const selection = { fromMs: from.getTime(), toMs: to.getTime(), equal };
    return selectCohort(this.store, selection, by);
  }

  /** A hidden cohort shows no group at all. */
  private forcedOf(grouped: Array<[string, unknown]>, hidden: boolean, forced: Set<string>) {
    return hidden ? new Set(grouped.map(([group]) => group)) : forced;
  }

  filterOf(query: CohortQueryDto, now = new Date()): CohortFilter {
    const to = query.to ? new Date(query.to) : now;
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - 30 * DAY);
    if (!(from < to)) throw new BadRequestException(['from must be before to']);
    if (to.getTime() - from.getTime() > MAX_PERIOD_DAYS * DAY)
      throw new BadRequestException([`the period must not exceed ${MAX_PERIOD_DAYS} days`]);
    const { cbo, category, requester, race, ethnicity, language, zip, payer, ageBand, sex } = query;
    return {
      from,
      to,
      cbo,
      category,
      requester,
      race,
      ethnicity,
      language,
      zip,
      payer,
      ageBand,
      sex,
    };
  }

  private describe(filter: CohortFilter, asOf: Date) {
    const { from, to, ...filters } = filter;
    const applied = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined));
    return {
      period: { from: from.toISOString(), to: to.toISOString() },
      filters: applied,
      asOf: asOf.toISOString(),
    };
  }

  async summary(query: CohortQueryDto) {
    const asOf = new Date();
    const filter = this.filterOf(query, asOf);
    const { rows, hidden } = await this.cohort(filter, null);
    return {
      ...this.describe(filter, asOf),
      ...summaryOf(aggregateAll(this.store, rows, asOf), hidden),
    };
  }

  async breakdown(query: CohortQueryDto, by: BreakdownDimension) {
    const asOf = new Date();
    const filter = this.filterOf(query, asOf);
    const { rows, hidden, forced } = await this.cohort(filter, by);
    const grouped = aggregateBy(this.store, rows, by, asOf);
    return {
      ...this.describe(filter, asOf),
      by,
      rows: breakdownOf(grouped, this.forcedOf(grouped, hidden, forced)),
    };
  }

  async equity(query: CohortQueryDto, dimension: EquityDimension, reference?: string) {
    const asOf = new Date();
    const filter = this.filterOf(query, asOf);
    const { rows, hidden, forced } = await this.cohort(filter, dimension);
    const grouped = aggregateBy(this.store, rows, dimension, asOf);
    try {
      return {
        ...this.describe(filter, asOf),
        ...equityOf(grouped, dimension, {
          reference,
          forced: this.forcedOf(grouped, hidden, forced),
        }),
      };
    } catch (error) {
      if (error instanceof ReferenceGroupError)
        throw new UnprocessableEntityException(error.message);
      throw error;
    }
  }

  async unmetNeed(query: CohortQueryDto) {
    const asOf = new Date();
    const filter = this.filterOf(query, asOf);
    const { rows, hidden } = await this.cohort(filter, null);
    const directory = await this.repository.directoryServices();
    return {
      ...this.describe(filter, asOf),
      rows: unmetNeed(this.store, rows, directory, hidden),
    };
  }
}
