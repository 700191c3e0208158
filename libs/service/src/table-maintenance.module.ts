import {
  DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PollingLoop } from '@carerelay/messaging';
import { TableMaintenanceRepository, tablesDue, type TableWork } from '@carerelay/persistence';

const TABLE_MAINTENANCE_OPTIONS = Symbol('TABLE_MAINTENANCE_OPTIONS');

export interface TableMaintenanceOptions {
  schema: string;
  /** Between passes; 0 turns it off. */
  intervalMs: number;
}

/**
 * Vacuums and analyzes the service's own tables when the server's autovacuum is off (as on the
 * CI machines), with autovacuum's own thresholds. With autovacuum on, a pass only reads one
 * setting. Another instance of the service holding the schema's lock skips the pass.
 */
@Injectable()
export class TableMaintenance implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('TableMaintenance');
  private readonly repository: TableMaintenanceRepository;
  private readonly loop: PollingLoop;
  private told = false;

  constructor(
    dataSource: DataSource,
    @Inject(TABLE_MAINTENANCE_OPTIONS) private readonly options: TableMaintenanceOptions,
  ) {
    this.repository = new TableMaintenanceRepository(dataSource, options.schema);
    this.loop = new PollingLoop({
      intervalMs: options.intervalMs,
      tick: () => this.pass(),
      onError: (error) => this.logger.warn(`table maintenance failed: ${error.message}`),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.intervalMs > 0) await this.loop.start(this.options.intervalMs);
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
  }

  /** One pass: the tables it vacuumed or analyzed (none while autovacuum is on). */
  async pass(): Promise<TableWork[]> {
    const settings = await this.repository.settingsWhereAutovacuumIsOff();
    if (!settings) return [];
    if (!this.told) {
      this.told = true;
      this.logger.log(
        `autovacuum is off on this server: the ${this.options.schema} tables are vacuumed and analyzed here, checked every ${this.options.intervalMs} ms`,
      );
    }
    const due = tablesDue(settings, await this.repository.activity());
    if (due.length === 0) return [];
    const done = await this.repository.exclusively(async (run) => {
      for (const item of due) await run(item);
    });
    if (!done) return [];
    this.logger.debug(
      `maintained ${due.map((d) => `${d.table} (${[d.vacuum && 'vacuum', d.analyze && 'analyze'].filter(Boolean).join(', ')})`).join(', ')}`,
    );
    return due;
  }
}

@Module({})
export class TableMaintenanceModule {
  static forRoot(options: TableMaintenanceOptions): DynamicModule {
    return {
      module: TableMaintenanceModule,
      providers: [{ provide: TABLE_MAINTENANCE_OPTIONS, useValue: options }, TableMaintenance],
      exports: [TableMaintenance],
    };
  }
}
