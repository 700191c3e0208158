import 'reflect-metadata';
import { runServiceMain } from '@carerelay/service';
import { startEhrConnector } from './bootstrap';
import { EhrConnectorConfig } from './ehr-connector.config';

runServiceMain('ehr-connector', EhrConnectorConfig, startEhrConnector);
