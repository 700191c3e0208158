import 'reflect-metadata';
import { runServiceMain } from '@carerelay/service';
import { startDirectoryService } from './bootstrap';
import { DirectoryServiceConfig } from './directory-service.config';

runServiceMain('directory-service', DirectoryServiceConfig, (config) =>
  startDirectoryService(config),
);
