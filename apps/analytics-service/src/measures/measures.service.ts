import { BadRequestException, Injectable, UnprocessableEntityException } from '@nestjs/common';
import type { CohortQueryDto } from '../http/analytics-query.dto';
import type { BreakdownDimension, EquityDimension } from './dimensions';
import { breakdown, equity, ReferenceGroupError, summarize } from './measures';
import { CohortFilter, MeasuresRepository } from './measures.repository';

const DAY = 86_400_000;
const MAX_PERIOD_DAYS = 3660;

/** Turns a query into a cohort and the cohort into measures; censoring is at the time of asking. */
@Injectable()
export class MeasuresService {
  constructor(private readonly repository: MeasuresRepository) {}

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
    const { facts, rejections } = await this.repository.cohort(filter);
    return { ...this.describe(filter, asOf), ...summarize(facts, rejections, asOf) };
  }

  async breakdown(query: CohortQueryDto, by: BreakdownDimension) {
    const asOf = new Date();
    const filter = this.filterOf(query, asOf);
    const { facts } = await this.repository.cohort(filter);
    return { ...this.describe(filter, asOf), by, rows: breakdown(facts, by, asOf) };
  }

  async equity(query: CohortQueryDto, dimension: EquityDimension, reference?: string) {
    const asOf = new Date();
    const filter = this.filterOf(query, asOf);
    const { facts } = await this.repository.cohort(filter);
    try {
      return { ...this.describe(filter, asOf), ...equity(facts, dimension, asOf, { reference }) };
    } catch (error) {
      if (error instanceof ReferenceGroupError)
        throw new UnprocessableEntityException(error.message);
      throw error;
    }
  }
}
