import { applyServerTimeouts } from '@carerelay/http';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getStatus, isOk, normalizeOperationOutcome } from '@medplum/core';
import {
  FhirRouter,
  MemoryRepository,
  type FhirRequest,
  type HttpMethod,
} from '@medplum/fhir-router';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '@carerelay/fhir';
import { randomBytes } from 'node:crypto';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { IndexedMemoryRepository } from './indexed-memory.repository';

/**
 * SMART Backend Services on the stand-in EHR (tests): one registered client, whose public key
 * verifies its client assertions at `<origin>/auth/token`; every FHIR request then needs a bearer
 * token issued there (401 otherwise).
 */
export interface EhrServerAuth {
  clientId: string;
  /** The client's public key (ES384 or RS384), as registered with the EHR. */
  publicJwk: JWK;
  /** Lifetime of an issued access token. */
  tokenTtlSeconds?: number;
}

export interface EhrServerOptions {
  /** 0 = any free port (tests). */
  port?: number;
  host?: string;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
  /**
   * Called with each resource a create, update or patch stored, as soon as the repository holds
   * it (benchmarks time when the EHR shows a change; transactions are not reported).
   */
  onWrite?: (resource: Resource) => void;
  /** Require SMART Backend Services tokens (no authentication when absent). */
  auth?: EhrServerAuth;
}

export interface RunningEhrServer {
  /** The FHIR base URL, e.g. http://127.0.0.1:8090/fhir */
  baseUrl: string;
  port: number;
  repo: MemoryRepository;
  /** Refuse connections for a while (tests of outages): the socket closes, the data stays. */
  stop: () => Promise<void>;
  /** Listen again on the same port with the same data. */
  start: () => Promise<void>;
  /**
   * Refuse every write with this 4xx status until called without one (tests of an EHR that
   * rejects updates, which the connector parks); reads still answer.
   */
  refuseWrites: (status?: number) => void;
  /**
   * Runs `hook` before each write is handled (until called without one), e.g. a clinician's
   * edit landing between a client's read and its If-Match update (which then gets a 412).
   */
  beforeWrite: (hook?: (write: EhrWrite) => Promise<void> | void) => void;
  /** With `auth`: the token URL (`<origin>/auth/token`). */
  tokenUrl: string;
  /** The last 1000 FHIR requests: method, path and whether they carried a valid token. */
  requests: Array<{ method: string; path: string; authorized: boolean }>;
  close: () => Promise<void>;
}

/** A write as the stand-in EHR server receives it. */
export interface EhrWrite {
  method: HttpMethod;
  /** Path below the base, e.g. `Task/123`. */
  path: string;
  ifMatch?: string;
  body?: unknown;
}

const METHODS = new Set<HttpMethod>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/fhir+json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function outcomeOf(status: number, code: string, diagnostics: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: code as 'invalid', diagnostics }],
  };
}

/**
 * The stand-in EHR FHIR server for tests and the demo: Medplum's FHIR router and in-memory
 * repository (a real FHIR R4 implementation we did not write) behind a small node:http server at
 * `<host>:<port>/fhir`, JSON only. Without `auth` it has NO authentication: a local test server,
 * loopback only; with `auth`, SMART Backend Services tokens for one client.
 */
export async function startEhrServer(options: EhrServerOptions = {}): Promise<RunningEhrServer> {
  loadFhirDefinitions();
  const host = options.host ?? '127.0.0.1';
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const router = new FhirRouter();
  const repo = new IndexedMemoryRepository();
  let refusal: number | undefined;
  let writeHook: ((write: EhrWrite) => Promise<void> | void) | undefined;

  const tokens = new Map<string, number>();
  const requests: RunningEhrServer['requests'] = [];
  const tokenUrl = () => `http://${host}:${port}/auth/token`;

  /** The token endpoint: a client assertion signed by the registered key → a bearer token. */
  const issueToken = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const auth = options.auth as EhrServerAuth;
    const form = new URLSearchParams(await readBody(req, 64 * 1024));
    const refuse = () =>
      send(res, 401, {
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
    if (
      form.get('grant_type') !== 'client_credentials' ||
      form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
    ) {
      send(res, 400, { error: 'invalid_request' });
      return;
    }
    try {
      const alg = auth.publicJwk.kty === 'EC' ? 'ES384' : 'RS384';
      await jwtVerify(form.get('client_assertion') ?? '', await importJWK(auth.publicJwk, alg), {
        issuer: auth.clientId,
        subject: auth.clientId,
        audience: tokenUrl(),
      });
    } catch {
      refuse();
      return;
    }
    const token = randomBytes(24).toString('base64url');
    const ttl = auth.tokenTtlSeconds ?? 300;
    tokens.set(token, Date.now() + ttl * 1000);
    send(res, 200, {
      access_token: token,
      token_type: 'bearer',
      expires_in: ttl,
      scope: form.get('scope') ?? '',
    });
  };

  const authorized = (req: IncomingMessage): boolean => {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const expires = match ? tokens.get(match[1]) : undefined;
    return expires !== undefined && expires > Date.now();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? host}`);
    if (options.auth && url.pathname === '/auth/token' && req.method === 'POST') {
      await issueToken(req, res);
      return;
    }
    if (url.pathname.startsWith('/fhir')) {
      const ok = authorized(req);
      if (requests.length >= 1000) requests.shift();
      requests.push({ method: req.method ?? 'GET', path: url.pathname, authorized: ok });
      if (options.auth && !ok) {
        send(res, 401, outcomeOf(401, 'login', 'a valid bearer token is required'), {
          'www-authenticate': 'Bearer',
        });
        return;
      }
    }
    if (!url.pathname.startsWith('/fhir')) {
      send(res, 404, outcomeOf(404, 'not-found', 'the FHIR base is /fhir'));
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase() as HttpMethod;
    if (!METHODS.has(method)) {
      send(res, 405, outcomeOf(405, 'not-supported', `${method} is not supported`));
      return;
    }
    let body: unknown;
    const text = await readBody(req, maxBody);
    if (refusal !== undefined && method !== 'GET') {
      send(res, refusal, outcomeOf(refusal, 'business-rule', 'this EHR refuses updates for now'));
      return;
    }
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        send(res, 400, outcomeOf(400, 'invalid', 'the body is not JSON'));
        return;
      }
    }
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of url.searchParams) {
      const previous = query[key];
      query[key] = previous === undefined ? value : [...[previous].flat(), value];
    }
    const path = url.pathname.replace(/^\/fhir\/?/, '');
    if (writeHook && method !== 'GET') {
      const ifMatch = req.headers['if-match'];
      await writeHook({
        method,
        path,
        ifMatch: typeof ifMatch === 'string' ? ifMatch : undefined,
        body,
      });
    }
    const request: FhirRequest = {
      method,
      url: `${path}${url.search}`,
      pathname: '',
      body,
      params: {},
      query,
      headers: req.headers,
    };
    const [outcome, resource] = await router.handleRequest(request, repo);
    const status = getStatus(outcome);
    if (!isOk(outcome)) {
      send(res, status, outcome);
      return;
    }
    const headers: Record<string, string> = {};
    const stored = resource as Resource | undefined;
    if (method !== 'GET' && method !== 'DELETE' && stored?.id && stored.resourceType !== 'Bundle')
      options.onWrite?.(stored);
    if (stored?.meta?.versionId) headers.ETag = `W/"${stored.meta.versionId}"`;
    if (stored?.meta?.lastUpdated)
      headers['Last-Modified'] = new Date(stored.meta.lastUpdated).toUTCString();
    if (status === 201 && stored?.id)
      headers.Location = `${baseUrl()}/${stored.resourceType}/${stored.id}`;
    send(res, status, resource ?? outcome, headers);
  };

  let server: Server | undefined;
  let port = options.port ?? 8090;
  const baseUrl = () => `http://${host}:${port}/fhir`;
  const sockets = new Set<import('node:net').Socket>();

  const listen = async (): Promise<void> => {
    const s = createServer((req, res) => {
      handle(req, res).catch((error: unknown) => {
        const status = (error as { status?: number }).status;
        if (status === 413) send(res, 413, outcomeOf(413, 'too-costly', 'body too large'));
        else send(res, 500, normalizeOperationOutcome(error));
      });
    });
    applyServerTimeouts(s);
    s.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };

  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  await listen();
  return {
    get baseUrl() {
      return baseUrl();
    },
    get port() {
      return port;
    },
    repo,
    stop,
    start: listen,
    close: stop,
    refuseWrites: (status?: number) => {
      if (status !== undefined && (status < 400 || status > 499))
        throw new Error('refuseWrites takes a 4xx status');
      refusal = status;
    },
    beforeWrite: (hook) => {
      writeHook = hook;
    },
    get tokenUrl() {
      return tokenUrl();
    },
    requests,
  };
}
