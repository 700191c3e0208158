import { Controller, Get, Query, Res, UseFilters, UsePipes } from '@nestjs/common';
import type { Response } from 'express';
import { Roles } from '@carerelay/auth';
import { MeasuresService } from '../measures/measures.service';
import { BreakdownQueryDto, CohortQueryDto, EquityQueryDto } from './analytics-query.dto';
import { toCsv } from './csv';
import { ProblemJsonFilter, queryValidation } from './problem.filter';

/**
 * The coordinators' analytics: aggregates only (no referral, patient or identifier), groups under
 * 11 referrals suppressed. Coordinators and the platform only.
 */
@Roles('coordinator', 'platform')
@Controller('analytics')
@UsePipes(queryValidation())
@UseFilters(ProblemJsonFilter)
export class AnalyticsController {
  constructor(private readonly measures: MeasuresService) {}

  @Get('summary')
  summary(@Query() query: CohortQueryDto) {
    return this.measures.summary(query);
  }

  @Get('breakdown')
  async breakdown(
    @Query() query: BreakdownQueryDto,
    @Res({ passthrough: true }) response: Response,
  ) {
    const result = await this.measures.breakdown(query, query.by);
    if (query.format !== 'csv') return result;
    return csv(response, `breakdown-${query.by}.csv`, toCsv(result.rows as never));
  }

  @Get('equity')
  async equity(@Query() query: EquityQueryDto, @Res({ passthrough: true }) response: Response) {
    const result = await this.measures.equity(query, query.dimension, query.reference);
    if (query.format !== 'csv') return result;
    return csv(
      response,
      `equity-${query.dimension}.csv`,
      toCsv(result.rows.map((row) => ({ dimension: result.dimension, ...row })) as never),
    );
  }
}

function csv(response: Response, filename: string, body: string): string {
  response.type('text/csv; charset=utf-8');
  response.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
  return body;
}
