import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import {
  checkEndpointUrl,
  ForbiddenDestinationError,
  guardedLookup,
  isAllowListed,
  isForbiddenAddress,
  type EndpointPolicy,
} from './endpoint-policy';

/** A delivery that did not get a 2xx; `reason` is for the server's log only, never for clients. */
export class DeliveryFailed extends Error {
  constructor(readonly reason: string) {
    super('delivery failed');
  }
}

/**
 * POSTs a notification to a Subscription's endpoint under the endpoint policy: the URL rule, the
 * address rule on the connection itself (guardedLookup; IP literals checked here, as Node skips
 * the lookup for them), no redirects followed, the answer drained and ignored but for its status.
 */
export function postNotification(
  endpoint: string,
  headers: readonly [string, string][],
  body: string,
  timeoutMs: number,
  policy: EndpointPolicy,
): Promise<void> {
  let url: URL;
  try {
    url = checkEndpointUrl(endpoint, policy);
  } catch {
    return Promise.reject(new DeliveryFailed('endpoint not allowed'));
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !isAllowListed(policy, host) && isForbiddenAddress(host))
    return Promise.reject(new DeliveryFailed(new ForbiddenDestinationError().message));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const outgoing: Record<string, string> = {};
  for (const [name, value] of headers) outgoing[name] = value;
  outgoing['content-type'] = 'application/fhir+json';
  outgoing['content-length'] = String(Buffer.byteLength(body));
  return new Promise<void>((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: outgoing,
        lookup: guardedLookup(policy) as never,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new DeliveryFailed(`endpoint answered ${status}`));
        });
        res.on('error', (error) => reject(new DeliveryFailed(error.message)));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) => reject(new DeliveryFailed(error.message)));
    req.end(body);
  });
}
