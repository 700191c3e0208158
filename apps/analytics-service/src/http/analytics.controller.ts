import { Controller, Get, Query, Res, UseFilters, UsePipes } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiUnauthorizedResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Roles } from '@carerelay/auth';
import { MeasuresService } from '../measures/measures.service';
import {
  BreakdownQueryDto,
  CohortQueryDto,
  EquityQueryDto,
  TableQueryDto,
  TimeSeriesQueryDto,
} from './analytics-query.dto';
import { toCsv } from './csv';
import { ProblemJsonFilter, queryValidation } from './problem.filter';

const SUPPRESSION =
  'Groups of 1 to 10 referrals are suppressed (figures null, `suppression: small-cell`), and so ' +
  'are complementary cells (`suppression: complementary`) chosen so that no suppressed cell can be ' +
  'recovered by subtracting shown cells from the total.';

/**
 * The coordinators' analytics: aggregates only (no referral, patient or identifier), groups under
 * 11 referrals suppressed. Coordinators and the platform only.
 */
@ApiTags('analytics')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No or invalid access token (problem+json)' })
@ApiForbiddenResponse({ description: 'Not a coordinator or the platform (problem+json)' })
@ApiBadRequestResponse({ description: 'A bad or unknown query parameter (problem+json)' })
@Roles('coordinator', 'platform')
@Controller('analytics')
@UsePipes(queryValidation())
@UseFilters(ProblemJsonFilter)
export class AnalyticsController {
  constructor(private readonly measures: MeasuresService) {}

  @Get('summary')
  @ApiOperation({
    summary: 'Summary cards of a period and filter',
    description:
      'Referrals made, routed, accepted, loop closed (completed with an outcome), closure rate ' +
      'with its 95% Wilson interval, awaiting consent, re-routes, deadline breaches, rejections by ' +
      'coded reason (network failures flagged apart), time to accept (median, p90 of accepted ' +
      'referrals) and time to close: Kaplan–Meier median and p90, open referrals censored at the ' +
      'time of asking and ended-without-closing ones at their end, with the number censored. ' +
      'Times to the second. A cohort of 1 to 10 referrals is suppressed whole.',
  })
  @ApiOkResponse({ description: 'The summary (JSON)' })
  summary(@Query() query: CohortQueryDto) {
    return this.measures.summary(query);
  }

  @Get('timeseries')
  @ApiOperation({
    summary: 'Referrals, closures and time to close per day, ISO week or month',
    description: `Periods are of the request time, in UTC. ${SUPPRESSION}`,
  })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({ description: 'One row per period' })
  async timeseries(
    @Query() query: TimeSeriesQueryDto,
    @Res({ passthrough: true }) response: Response,
  ) {
    const period = query.period ?? 'week';
    const result = await this.measures.breakdown(query, period);
    if (query.format !== 'csv') return result;
    return csv(response, `timeseries-${period}.csv`, toCsv(result.rows as never));
  }

  @Get('breakdown')
  @ApiOperation({
    summary: 'Measures by CBO, category, referring organization, period or an equity dimension',
    description: SUPPRESSION,
  })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({ description: 'One row per group' })
  async breakdown(
    @Query() query: BreakdownQueryDto,
    @Res({ passthrough: true }) response: Response,
  ) {
    const result = await this.measures.breakdown(query, query.by);
    if (query.format !== 'csv') return result;
    return csv(response, `breakdown-${query.by}.csv`, toCsv(result.rows as never));
  }

  @Get('equity')
  @ApiOperation({
    summary: "Equity table: each group's closure beside a reference group's",
    description:
      "For each group: closure rate and Kaplan–Meier median time to close beside the reference group's " +
      '(chosen with `reference`; default the largest shown group), the absolute difference and the ' +
      "ratio, a 95% confidence interval for the difference in proportions by Newcombe's hybrid " +
      'score method (method 10, from the two Wilson intervals; it keeps its coverage for small ' +
      'groups and rates near 0 or 1), the p-value that goes with that interval, and the ' +
      'Benjamini–Hochberg adjusted q-value over the groups compared in the table. A group is ' +
      '`flagged` when its interval excludes 0 and q ≤ 0.05, so the expected share of false ' +
      `discoveries among flagged groups stays at or below 5%. ${SUPPRESSION}`,
  })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({ description: 'The table and the method used' })
  @ApiUnprocessableEntityResponse({ description: 'The reference group is absent or suppressed' })
  async equity(@Query() query: EquityQueryDto, @Res({ passthrough: true }) response: Response) {
    const result = await this.measures.equity(query, query.dimension, query.reference);
    if (query.format !== 'csv') return result;
    return csv(
      response,
      `equity-${query.dimension}.csv`,
      toCsv(result.rows.map((row) => ({ dimension: result.dimension, ...row })) as never),
    );
  }

  @Get('unmet-need')
  @ApiOperation({
    summary: 'Unmet need: referrals turned away for want of a service, by category and ZIP',
    description:
      'Per SDOH category and ZIP of the patient: referrals with an attempt ended for no capacity, ' +
      'not eligible or out of area, and referrals for which no CBO could be found, beside the ' +
      "directory's active services of that category covering the ZIP (by ZIP list), how many " +
      `report capacity, and their available units. ${SUPPRESSION}`,
  })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({ description: 'One row per category and ZIP' })
  async unmetNeed(@Query() query: TableQueryDto, @Res({ passthrough: true }) response: Response) {
    const result = await this.measures.unmetNeed(query);
    if (query.format !== 'csv') return result;
    return csv(response, 'unmet-need.csv', toCsv(result.rows as never));
  }
}

function csv(response: Response, filename: string, body: string): string {
  response.type('text/csv; charset=utf-8');
  response.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
  return body;
}
