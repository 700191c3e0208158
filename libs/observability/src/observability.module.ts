import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { HttpMetricsMiddleware, MetricsController } from './metrics';

/** /health/live, /health/ready and /metrics for an app that imports MessagingModule. */
@Module({
  imports: [TerminusModule],
  controllers: [HealthController, MetricsController],
})
export class ObservabilityModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*path');
  }
}
