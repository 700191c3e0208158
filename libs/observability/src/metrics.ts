import { Controller, Get, Header, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Histogram, register } from 'prom-client';
import { Public } from '@carerelay/auth';

/**
 * prom-client's default registry: one per process, served by every app at /metrics; libs
 * (messaging: consumption, DLQ, lag, outbox) register their metrics on it too.
 */
export const metricsRegistry = register;
if (!metricsRegistry.getSingleMetric('process_cpu_user_seconds_total')) {
  collectDefaultMetrics({ register: metricsRegistry });
}

export const httpDuration = new Histogram({
  name: 'carerelay_http_request_duration_seconds',
  help: 'HTTP request latency',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [metricsRegistry],
});

export const deadLetters = new Counter({
  name: 'carerelay_dead_letters_total',
  help: 'Messages sent to a dead-letter topic',
  labelNames: ['topic', 'error'],
  registers: [metricsRegistry],
});

@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  use(request: Request, response: Response, next: NextFunction): void {
    const stop = httpDuration.startTimer({ method: request.method });
    response.on('finish', () => {
      const route = (request.route?.path as string | undefined) ?? request.baseUrl ?? 'unmatched';
      stop({ route, status: String(response.statusCode) });
    });
    next();
  }
}

/** Open to anyone (no PHI): scrapers read it. */
@Public()
@Controller('metrics')
export class MetricsController {
  @Get()
  @Header('Content-Type', metricsRegistry.contentType)
  metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
