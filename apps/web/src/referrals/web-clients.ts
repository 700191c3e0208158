import { ConfigError } from '@carerelay/config';
import type { JWK } from 'jose';

/** A SMART Backend Services client the web app acts with for one organization. */
export interface WebOrgClient {
  organizationId: string;
  role: 'cbo' | 'coordinator';
  clientId: string;
  privateJwk: JWK;
}

/** WEB_FHIR_CLIENTS, checked once at start: a bad entry stops the app (exit 78). */
export function parseWebClients(raw: string): WebOrgClient[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(['WEB_FHIR_CLIENTS: is not JSON']);
  }
  const problems: string[] = [];
  const clients = (Array.isArray(parsed) ? parsed : []) as WebOrgClient[];
  clients.forEach((c, i) => {
    if (!c || typeof c !== 'object') return problems.push(`WEB_FHIR_CLIENTS[${i}]: not an object`);
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(String(c.organizationId)))
      problems.push(`WEB_FHIR_CLIENTS[${i}].organizationId: must be an Organization id`);
    if (c.role !== 'cbo' && c.role !== 'coordinator')
      problems.push(`WEB_FHIR_CLIENTS[${i}].role: must be cbo or coordinator`);
    if (typeof c.clientId !== 'string' || !c.clientId)
      problems.push(`WEB_FHIR_CLIENTS[${i}].clientId: required`);
    if (!c.privateJwk || typeof c.privateJwk !== 'object' || !('d' in c.privateJwk))
      problems.push(`WEB_FHIR_CLIENTS[${i}].privateJwk: must be a private JWK`);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return clients;
}
