import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { useServiceHttp, applyServerTimeouts } from '@carerelay/http';
import { FhirRequestError } from '@carerelay/fhir-client';
import { connectEventConsumer } from '@carerelay/messaging';
import {
  PinoNestLogger,
  consumerLogger,
  createServiceLogger,
  deadLetters,
} from '@carerelay/observability';
import { AppModule } from './app.module';
import { EhrConnectorConfig } from './ehr-connector.config';

/** Builds and starts the connector; tests call it with their own schema, group and port 0. */
export async function startEhrConnector(config: EhrConnectorConfig): Promise<INestApplication> {
  const logger = createServiceLogger('ehr-connector', config.LOG_LEVEL);
  const app = await NestFactory.create(AppModule.register(config), {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
  });
  useServiceHttp(app);
  app.enableShutdownHooks();
  connectEventConsumer(app, {
    groupId: config.EHR_CONNECTOR_CONSUMER_GROUP,
    onDeadLetter: (topic, error) => deadLetters.inc({ topic, error }),
    logger: consumerLogger(logger),
    isTransient: (error) => error instanceof FhirRequestError && error.status === 0,
  });
  // init first: it migrates the schema and provisions the topics the consumer subscribes to.
  await app.init();
  await app.startAllMicroservices();
  applyServerTimeouts(app.getHttpServer());
  await app.listen(config.EHR_CONNECTOR_PORT, '127.0.0.1');
  return app;
}
