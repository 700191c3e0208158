export * from './audit-tables.migration';
