import { DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSourceOptions } from 'typeorm';
import { ServiceDataSourceOptions, openServiceDataSource } from './data-source.factory';

/**
 * TypeORM for one service: its own schema, `synchronize: false`, migrations run at start before
 * anything else touches the database.
 */
export class PersistenceModule {
  static forService(options: ServiceDataSourceOptions): DynamicModule {
    return TypeOrmModule.forRootAsync({
      useFactory: () =>
        ({ type: 'postgres', url: options.url, schema: options.schema }) as DataSourceOptions,
      dataSourceFactory: async () => openServiceDataSource(options),
    });
  }
}
