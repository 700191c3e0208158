export * from './directory.model';
export * from './eligibility';
export * from './geo';
export * from './hsds-export';
export * from './hsds-import';
export * from './hsds.types';
export * from './languages';
export * from './service-matching';
