import { Controller, Get, Inject } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Public } from '@carerelay/auth';
import { MESSAGE_BUS, MessageBus } from '@carerelay/messaging';

/** Open to anyone (no PHI): orchestrators probe it. */
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
  ) {}

  /** The process answers: nothing else is checked, so a broker outage doesn't restart it. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([() => this.indicators.check('process').up({ pid: process.pid })]);
  }

  /** Ready to work: PostgreSQL and Kafka both answer. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.database.pingCheck('postgresql', { timeout: 2000 }),
      async () => {
        const kafka = this.indicators.check('kafka');
        try {
          return kafka.up(await this.bus.describeCluster());
        } catch (error) {
          return kafka.down({ message: (error as Error).message });
        }
      },
    ]);
  }
}
