import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { applyServerTimeouts, problem, sendProblem } from '@carerelay/http';

export interface ManagementListener {
  port: number;
  host: string;
}

/** Health and metrics: what the management listener serves, and only it. */
export const isManagementPath = (path: string): boolean =>
  /^\/health(\/|$)/.test(path) || /^\/metrics\/?$/.test(path);

const managementRequests = new WeakSet<IncomingMessage>();
const managementServers = new WeakMap<INestApplication, Server>();

/**
 * With a management listener, each port serves its own part of the one application: the API's
 * port everything but health and metrics, the management port health and metrics only; each
 * answers the other's paths 404, as if they did not exist. Registered before any other
 * middleware, so nothing else runs for a request on the wrong port.
 */
export function splitManagementPaths(app: NestExpressApplication): void {
  app.use((request: Request, response: Response, next: NextFunction) => {
    if (managementRequests.has(request) === isManagementPath(request.path)) {
      next();
      return;
    }
    sendProblem(response, problem(404, 'Not found.'));
  });
}

/**
 * Serves the application's health and metrics on their own port: a second HTTP server on the
 * same request handler (so guards, health indicators and metrics are the application's own),
 * closed with the application.
 */
export async function listenManagement(
  app: NestExpressApplication,
  listener: ManagementListener,
): Promise<Server> {
  const handler = app.getHttpAdapter().getInstance() as (
    request: IncomingMessage,
    response: unknown,
  ) => void;
  const server = applyServerTimeouts(
    createServer((request, response) => {
      managementRequests.add(request);
      handler(request, response);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listener.port, listener.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  managementServers.set(app, server);
  const close = app.close.bind(app);
  app.close = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await close();
  };
  return server;
}

/** The management listener's URL (`http://host:port`), undefined when health is on the API port. */
export function managementUrlOf(app: INestApplication): string | undefined {
  const server = managementServers.get(app);
  const address = server?.address() as AddressInfo | null | undefined;
  if (!address) return undefined;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
