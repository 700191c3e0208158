import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { startFhirApi } from './bootstrap';
import { FhirApiConfig } from './fhir-api.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(FhirApiConfig);
  const { baseUrl } = await startFhirApi(config);
  console.log(`fhir-api listening: ${baseUrl}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
