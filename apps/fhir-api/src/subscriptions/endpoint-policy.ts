import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { unprocessable } from '@carerelay/fhir';

/**
 * Where a Subscription may send notifications. A subscriber names the endpoint, so the FHIR API
 * would otherwise be a request forger inside the operator's network:
 *
 *  - https only; http only to hosts the operator allow-lists (SUBSCRIPTION_ALLOWED_HTTP_HOSTS);
 *  - the host's addresses must all be public unicast: no loopback, private, link-local, CGNAT,
 *    multicast, documentation or other special-purpose ranges — checked when the Subscription is
 *    created AND on every connection (the resolver used for the connection is the checking one,
 *    so a name that re-resolves to an internal address between check and use is refused);
 *  - an allow-listed host is trusted as the operator configured it (http and any address);
 *  - no credentials in the URL; the subscriber's own headers only under X- names, never one that
 *    proxies or this server treat as identity or routing (see checkHeaders).
 *
 * Every refusal reads the same whatever the reason (does not resolve, resolves to a private
 * address, …): the answer must not map the operator's network.
 */
export interface EndpointPolicy {
  /** Lower-case host names or IP literals (IPv6 without brackets). */
  allowedHttpHosts: ReadonlySet<string>;
}

export function endpointPolicy(allowedHttpHosts: string | readonly string[]): EndpointPolicy {
  const list =
    typeof allowedHttpHosts === 'string' ? allowedHttpHosts.split(',') : allowedHttpHosts;
  return {
    allowedHttpHosts: new Set(
      list
        .map((h) =>
          h
            .trim()
            .toLowerCase()
            .replace(/^\[|\]$/g, ''),
        )
        .filter((h) => h !== ''),
    ),
  };
}

const SPECIAL_PURPOSE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  SPECIAL_PURPOSE.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::', 96], // IPv4-compatible (deprecated)
  ['64:ff9b::', 96], // NAT64: reaches whatever IPv4 address it embeds
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23], // IETF protocol assignments, Teredo
  ['2001:db8::', 32],
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  SPECIAL_PURPOSE.addSubnet(network, prefix, 'ipv6');

/** Is this address one a notification may never be sent to (unless its host is allow-listed)? */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return SPECIAL_PURPOSE.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(?:0:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isForbiddenAddress(mapped[1]);
  return SPECIAL_PURPOSE.check(address, 'ipv6');
}

const REFUSED =
  'channel.endpoint must be an https URL of a host on the public internet (http, or an internal host, only where the operator allows it)';

export const endpointRefused = () => unprocessable(REFUSED, 'Subscription.channel.endpoint');

const hostOf = (url: URL): string => url.hostname.toLowerCase().replace(/^\[|\]$/g, '');

export function isAllowListed(policy: EndpointPolicy, host: string): boolean {
  return policy.allowedHttpHosts.has(host.toLowerCase().replace(/^\[|\]$/g, ''));
}

/** The URL form of the rule (no DNS): 422 unless https, or http to an allow-listed host. */
export function checkEndpointUrl(endpoint: string, policy: EndpointPolicy): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw endpointRefused();
  }
  if (url.username !== '' || url.password !== '') throw endpointRefused();
  const allowListed = isAllowListed(policy, hostOf(url));
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && allowListed) return url;
  throw endpointRefused();
}

const lookupAll = (host: string): Promise<LookupAddress[]> =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );

/** The whole rule, as at creation: the URL, then every address its host resolves to. */
export async function checkEndpoint(endpoint: string, policy: EndpointPolicy): Promise<URL> {
  const url = checkEndpointUrl(endpoint, policy);
  const host = hostOf(url);
  if (isAllowListed(policy, host)) return url;
  let addresses: LookupAddress[];
  try {
    addresses = await lookupAll(host);
  } catch {
    throw endpointRefused();
  }
  if (addresses.length === 0 || addresses.some((a) => isForbiddenAddress(a.address)))
    throw endpointRefused();
  return url;
}

export class ForbiddenDestinationError extends Error {
  readonly code = 'ERR_FORBIDDEN_DESTINATION';
  constructor() {
    super('the endpoint resolves to an address notifications may not be sent to');
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http(s).request: resolves like dns.lookup and refuses (before any connection)
 * when an address is forbidden, so the address connected to is the address checked.
 */
export function guardedLookup(policy: EndpointPolicy) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
    lookupAll(host).then(
      (addresses) => {
        const allowed = isAllowListed(policy, host);
        if (
          addresses.length === 0 ||
          (!allowed && addresses.some((a) => isForbiddenAddress(a.address)))
        ) {
          callback(new ForbiddenDestinationError(), options.all ? [] : '', undefined);
          return;
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (error: NodeJS.ErrnoException) => callback(error, options.all ? [] : '', undefined),
    );
  };
}

/** Header names proxies, frameworks or this network read as identity, routing or method. */
const RESERVED_HEADER =
  /^x-(forwarded|real-ip|client-ip|original|rewrite|host|http-method|method-override|dev-actor|envoy|amz-|goog-|ms-)/i;
const HEADER_NAME = /^X-[A-Za-z0-9-]{1,62}$/;
export const MAX_SUBSCRIPTION_HEADERS = 8;

/**
 * The subscriber's channel.header entries, parsed: at most eight, each `X-Name: value` with a
 * printable-ASCII value of at most 512 characters, never a reserved X- name. Everything else
 * (Authorization, Cookie, Host, Content-Type, …) is the server's to set, not the subscriber's:
 * a subscriber authenticates its endpoint with a header of its own (e.g. X-Subscription-Token).
 */
export function checkHeaders(entries: readonly unknown[]): [string, string][] {
  if (entries.length > MAX_SUBSCRIPTION_HEADERS)
    throw unprocessable(
      `at most ${MAX_SUBSCRIPTION_HEADERS} channel.header entries`,
      'Subscription.channel.header',
    );
  return entries.map((entry) => {
    const text = typeof entry === 'string' ? entry : '';
    const i = text.indexOf(':');
    const name = i > 0 ? text.slice(0, i).trim() : '';
    const value = i > 0 ? text.slice(i + 1).trim() : '';
    if (
      !HEADER_NAME.test(name) ||
      RESERVED_HEADER.test(name) ||
      value === '' ||
      value.length > 512 ||
      !/^[\x20-\x7e]+$/.test(value)
    )
      throw unprocessable(
        'channel.header entries must be "X-Name: value" (custom X- headers only; Authorization, Cookie, Host, forwarding and identity headers are not allowed)',
        'Subscription.channel.header',
      );
    return [name, value] as [string, string];
  });
}
