import { MiddlewareConsumer, Module, NestModule, OnModuleInit } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { OutboxRelay } from '@carerelay/messaging';
import { HealthController } from './health.controller';
import { HttpMetricsMiddleware, MetricsController, outboxBacklogGauge } from './metrics';

/** /health/live, /health/ready and /metrics for an app that imports MessagingModule. */
@Module({
  imports: [TerminusModule],
  controllers: [HealthController, MetricsController],
})
export class ObservabilityModule implements NestModule, OnModuleInit {
  private static gaugeRegistered = false;

  constructor(private readonly relay: OutboxRelay) {}

  onModuleInit(): void {
    if (ObservabilityModule.gaugeRegistered) return;
    ObservabilityModule.gaugeRegistered = true;
    outboxBacklogGauge(() => this.relay.backlog());
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*path');
  }
}
