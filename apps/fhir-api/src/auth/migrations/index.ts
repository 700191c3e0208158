export * from './auth-tables.migration';
