import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import {
  currentTraceparent,
  isTraceparent,
  newTraceparent,
  requestLogger,
  resourceOfPath,
  traceIdOf,
} from './correlation';

const KNOWN = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('traceparent', () => {
  it('accepts W3C traceparents and refuses malformed or all-zero ones', () => {
    expect(isTraceparent(KNOWN)).toBe(true);
    expect(isTraceparent(newTraceparent())).toBe(true);
    expect(isTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBe(false);
    expect(isTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01')).toBe(false);
    expect(isTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBe(false);
    expect(isTraceparent(KNOWN.toUpperCase())).toBe(false);
    expect(isTraceparent('abc')).toBe(false);
    expect(isTraceparent(undefined)).toBe(false);
    expect(traceIdOf(KNOWN)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('finds the resource in a FHIR path', () => {
    expect(resourceOfPath('/fhir/Task/abc-1')).toBe('Task/abc-1');
    expect(resourceOfPath('/fhir/Task/abc-1/_history/2')).toBe('Task/abc-1');
    expect(resourceOfPath('/fhir/Task')).toBeUndefined();
    expect(resourceOfPath('/fhir/Task/_search')).toBeUndefined();
    expect(resourceOfPath('/fhir')).toBeUndefined();
  });
});

describe('requestLogger', () => {
  let server: Server;
  let base: string;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const middleware = requestLogger(pino({ base: { service: 'test' } }, sink), {
      identify: () => ({ client: 'client-1', organization: 'org-1' }),
    });
    server = createServer((req, res) =>
      middleware(req, res, () => {
        // The correlation id survives awaits inside the request.
        void new Promise((resolve) => setTimeout(resolve, 5)).then(() => {
          res.statusCode = req.url?.startsWith('/fhir/Task/') ? 200 : 404;
          res.end(currentTraceparent());
        });
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('keeps the caller traceparent, answers it, makes it current and logs one line', async () => {
    const response = await fetch(`${base}/fhir/Task/t-1?patient=secret`, {
      headers: { traceparent: KNOWN },
    });
    expect(response.headers.get('traceparent')).toBe(KNOWN);
    expect(await response.text()).toBe(KNOWN);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = lines.find((l) => l.traceparent === KNOWN)!;
    expect(line).toMatchObject({
      msg: 'request',
      method: 'GET',
      path: '/fhir/Task/t-1',
      status: 200,
      client: 'client-1',
      organization: 'org-1',
      resource: 'Task/t-1',
      service: 'test',
    });
    expect(typeof line.ms).toBe('number');
    expect(JSON.stringify(line)).not.toContain('secret');
  });

  it('makes a traceparent when there is none or it is malformed', async () => {
    const response = await fetch(`${base}/fhir/Patient`, { headers: { traceparent: 'junk' } });
    const made = response.headers.get('traceparent')!;
    expect(isTraceparent(made)).toBe(true);
    expect(await response.text()).toBe(made);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(lines.find((l) => l.traceparent === made)).toMatchObject({
      status: 404,
      invalidTraceparent: 'junk',
    });
  });

  it('does not log health checks and metrics scrapes', async () => {
    const before = lines.length;
    const response = await fetch(`${base}/health/ready`);
    expect(isTraceparent(response.headers.get('traceparent'))).toBe(true);
    await response.text();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(lines.length).toBe(before);
  });
});
