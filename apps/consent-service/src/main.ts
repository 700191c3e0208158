import 'reflect-metadata';
import { runServiceMain } from '@carerelay/service';
import { startConsentService } from './bootstrap';
import { ConsentServiceConfig } from './consent-service.config';

runServiceMain('consent-service', ConsentServiceConfig, (config) => startConsentService(config));
