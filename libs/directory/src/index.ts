export * from './directory.model';
export * from './eligibility';
export * from './geo';
export * from './languages';
export * from './service-matching';
