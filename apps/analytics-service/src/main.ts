import 'reflect-metadata';
import { runServiceMain } from '@carerelay/service';
import { AnalyticsServiceConfig } from './analytics-service.config';
import { startAnalyticsService } from './bootstrap';

runServiceMain('analytics-service', AnalyticsServiceConfig, (config) =>
  startAnalyticsService(config),
);
