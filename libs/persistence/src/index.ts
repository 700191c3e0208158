export * from './data-source.factory';
export * from './schema-of';
export * from './persistence.module';
export * from './safe-error';
export * from './infrastructure-error';
export * from './group.writer';
export * from './table-maintenance';
export * from './table-maintenance.repository';
