import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import { applyServerTimeouts, useServiceHttp } from '@carerelay/http';
import { managementListenerOf, tlsFilesOf } from '@carerelay/config';
import { PinoNestLogger, createServiceLogger } from '@carerelay/observability';
import { httpsOptionsOf, listenManagement, splitManagementPaths } from '@carerelay/service';
import { AppModule } from './app.module';
import { parseWebClients } from './referrals/web-clients';
import { securityHeaders, serveSpa } from './static/spa';
import { WebConfig } from './web.config';
import { ValidationPipe } from '@nestjs/common';
import { describeValidationErrors, validationException } from '@carerelay/http';

/** The built SPA beside the compiled server (dist/apps/web/client), unless WEB_CLIENT_DIR says. */
export const defaultClientDir = (): string => path.resolve(__dirname, '..', 'client');

/** Builds and starts the web app; tests call it with port 0. */
export async function startWebApp(
  config: WebConfig,
  options: { port?: number } = {},
): Promise<INestApplication> {
  parseWebClients(config.WEB_FHIR_CLIENTS); // a bad client list stops the start, named
  const logger = createServiceLogger('web', config.LOG_LEVEL);
  const tls = tlsFilesOf(config);
  const httpsOptions = tls ? httpsOptionsOf(tls) : undefined;
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), {
    logger: new PinoNestLogger(logger),
    bodyParser: false,
    ...(httpsOptions ? { httpsOptions } : {}),
  });
  const management = managementListenerOf(config);
  if (management) splitManagementPaths(app);
  app.enableShutdownHooks();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  app.use(cookieParser());
  useServiceHttp(app, { limit: '32kb' });
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      exceptionFactory: (errors) => validationException(describeValidationErrors(errors)),
    }),
  );
  const clientDir = config.WEB_CLIENT_DIR || defaultClientDir();
  if (!serveSpa(app.getHttpAdapter().getInstance(), clientDir)) {
    logger.warn({ clientDir }, 'no built single-page app (npm run build): serving the API only');
  }
  await app.init();
  applyServerTimeouts(app.getHttpServer());
  await app.listen(options.port ?? config.WEB_PORT, config.API_HOST);
  if (management) await listenManagement(app, management);
  return app;
}
