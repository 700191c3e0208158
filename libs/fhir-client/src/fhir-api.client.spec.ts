import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FhirApiClient, FhirRequestError } from './fhir-api.client';

// The client's answers and errors as its callers rely on them, over a real socket: fhir-kit-client
// sends with undici's request API (patches/fhir-kit-client+*.patch), not with fetch.
describe('FhirApiClient over HTTP', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage['headers'] }> = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen.push({ method: request.method, url: request.url, headers: request.headers });
        response.setHeader('content-type', 'application/fhir+json');
        if (request.url?.endsWith('/Task/missing')) {
          response.statusCode = 404;
          response.end(
            JSON.stringify({
              resourceType: 'OperationOutcome',
              issue: [{ severity: 'error', code: 'not-found', diagnostics: 'no such Task' }],
            }),
          );
        } else if (request.url?.endsWith('/Task/moved')) {
          response.statusCode = 301;
          response.setHeader('location', '/fhir/Task/1');
          response.end();
        } else if (request.url?.endsWith('/Task/html')) {
          response.statusCode = 502;
          response.setHeader('content-type', 'text/html');
          response.end('<html>bad gateway</html>');
        } else {
          const sent = body ? (JSON.parse(body) as Record<string, unknown>) : {};
          response.end(
            JSON.stringify({
              resourceType: 'Task',
              id: '1',
              status: 'requested',
              ...sent,
              meta: { versionId: body ? '3' : '2' },
            }),
          );
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => (seen.length = 0));

  /** Accepts Task/1 with If-Match (a read, then the PUT); the headers the PUT arrived with. */
  const acceptWithIfMatch = async (client: FhirApiClient) => {
    const updated = await client.updateWithIfMatch('Task', '1', (task) => ({
      ...task,
      status: 'accepted',
    }));
    expect(updated).toMatchObject({ id: '1', status: 'accepted', meta: { versionId: '3' } });
    expect(seen.map((s) => [s.method, s.url])).toEqual([
      ['GET', '/fhir/Task/1'],
      ['PUT', '/fhir/Task/1'],
    ]);
    return seen[1].headers;
  };

  it('reads and writes with If-Match, sending its headers', async () => {
    const client = new FhirApiClient(base, undefined, {
      customHeaders: { 'X-Dev-Actor': 'platform:p' },
    });
    expect(await acceptWithIfMatch(client)).toMatchObject({
      'if-match': 'W/"2"',
      'x-dev-actor': 'platform:p',
      'content-type': 'application/fhir+json',
      accept: 'application/fhir+json',
    });
  });

  it('turns an error answer into its status and OperationOutcome', async () => {
    const error = await new FhirApiClient(base).read('Task', 'missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FhirRequestError);
    expect(error).toMatchObject({
      status: 404,
      outcome: { resourceType: 'OperationOutcome' },
      message: 'read Task/missing: HTTP 404 no such Task',
    });
  });

  it('does not follow a redirect, and keeps the status of an answer that is not JSON', async () => {
    const client = new FhirApiClient(base);
    await expect(client.read('Task', 'moved')).rejects.toMatchObject({ status: 301 });
    await expect(client.read('Task', 'html')).rejects.toMatchObject({ status: 502 });
    expect(seen.map((s) => s.url)).toEqual(['/fhir/Task/moved', '/fhir/Task/html']);
  });

  // A request signer (or fetch options) sends through fetch, as fhir-kit-client does unpatched;
  // its answers and errors go through the same code as undici's.
  describe('with a request signer (sent with fetch)', () => {
    const signed = () =>
      new FhirApiClient(base, undefined, {
        requestSigner: (_url: string, init: RequestInit) => {
          (init.headers as Headers).set('x-signature', 'signed');
        },
      });

    it('reads and writes with If-Match, sending its headers and the signature', async () => {
      expect(await acceptWithIfMatch(signed())).toMatchObject({
        'if-match': 'W/"2"',
        'x-signature': 'signed',
      });
    });

    it('turns error answers into their status, with the OperationOutcome when there is one', async () => {
      await expect(signed().read('Task', 'missing')).rejects.toMatchObject({
        status: 404,
        outcome: { resourceType: 'OperationOutcome' },
        message: 'read Task/missing: HTTP 404 no such Task',
      });
      await expect(signed().read('Task', 'html')).rejects.toMatchObject({
        status: 502,
        outcome: '<html>bad gateway</html>',
      });
    });
  });

  it('fails as fetch does when nothing answers: status 0, the raw client a TypeError', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new FhirApiClient(`http://127.0.0.1:${port}/fhir`);
    await expect(client.read('Task', '1')).rejects.toMatchObject({
      status: 0,
      message: 'read Task/1: fetch failed',
    });
    const raw = await client.raw();
    const error = await raw.read({ resourceType: 'Task', id: '1' }).catch((e: unknown) => e);
    // A TypeError of Node's realm, not of jest's sandbox: compared by name.
    expect(error).toMatchObject({
      name: 'TypeError',
      message: 'fetch failed',
      cause: expect.objectContaining({ code: 'ECONNREFUSED' }),
    });
  });
});
