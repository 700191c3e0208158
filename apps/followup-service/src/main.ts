import 'reflect-metadata';
import { runServiceMain } from '@carerelay/service';
import { startFollowupService } from './bootstrap';
import { FollowupServiceConfig } from './followup-service.config';

runServiceMain('followup-service', FollowupServiceConfig, (config) => startFollowupService(config));
