import fs from 'node:fs';
import path from 'node:path';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

/** Strict headers for every answer: no framing, no sniffing, scripts only from this origin. */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader(
    'content-security-policy',
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  );
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  next();
}

/**
 * The built single-page app: hashed assets cached for long, index.html for every other path that
 * is not the API (the SPA routes them).
 */
export function serveSpa(app: Express, clientDir: string): boolean {
  const index = path.join(clientDir, 'index.html');
  if (!fs.existsSync(index)) return false;
  // The build writes a gzipped copy of every script and stylesheet: sent to browsers that take it.
  const assets = path.join(clientDir, 'assets');
  app.use('/assets', (req: Request, res: Response, next: NextFunction) => {
    const type = /\.js$/.test(req.path)
      ? 'text/javascript'
      : /\.css$/.test(req.path)
        ? 'text/css'
        : '';
    const file = path.join(assets, path.basename(req.path));
    const accepts = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (!type || !accepts || !fs.existsSync(`${file}.gz`)) return next();
    res.setHeader('content-type', `${type}; charset=utf-8`);
    res.setHeader('content-encoding', 'gzip');
    res.setHeader('vary', 'Accept-Encoding');
    res.setHeader('cache-control', 'public, max-age=31536000, immutable');
    res.sendFile(`${file}.gz`);
  });
  app.use(
    '/assets',
    express.static(path.join(clientDir, 'assets'), {
      immutable: true,
      maxAge: '365d',
      index: false,
    }),
  );
  app.use(express.static(clientDir, { index: false, maxAge: 0 }));
  app.get(/^\/(?!api\/|api$|health\/|metrics$).*/, (_req, res) => {
    res.setHeader('cache-control', 'no-store');
    res.sendFile(index);
  });
  return true;
}
