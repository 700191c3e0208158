// kafkajs 2.2.4 re-armed a 1 ms timer on every connection for as long as the client lived, pending
// request or not: a few % of a core per idle service. patches/kafkajs+2.2.4.patch (applied by
// `npm ci`'s postinstall) stops it; these tests fail if the patch is not applied, and check that
// a request held back by the broker's throttle is still sent once the throttle ends.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const RequestQueue = require('kafkajs/src/network/requestQueue');

const silentLogger = { debug: () => undefined, warn: () => undefined, error: () => undefined };

function queue() {
  return new RequestQueue({
    instrumentationEmitter: { emit: () => undefined },
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'spec',
    broker: 'spec:9092',
    logger: silentLogger,
  });
}

function request(correlationId: number, sent: number[]) {
  return {
    entry: {
      correlationId,
      apiKey: 1,
      apiName: 'Fetch',
      apiVersion: 11,
      resolve: () => undefined,
      reject: () => undefined,
    },
    expectResponse: true,
    requestTimeout: 30_000,
    sendRequest: () => sent.push(correlationId),
  };
}

describe('kafkajs request queue (patched)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('arms no timer once the last answer is in and nothing waits', () => {
    const q = queue();
    const sent: number[] = [];
    q.push(request(1, sent));
    q.fulfillRequest({ correlationId: 1, size: 0, payload: Buffer.alloc(0) });

    expect(sent).toEqual([1]);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(1_000);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('sends a request held back by a throttle when the throttle ends, then goes quiet', () => {
    const q = queue();
    const sent: number[] = [];
    q.maybeThrottle(50);
    q.push(request(2, sent));

    expect(sent).toEqual([]);
    jest.advanceTimersByTime(60);
    expect(sent).toEqual([2]);

    q.fulfillRequest({ correlationId: 2, size: 0, payload: Buffer.alloc(0) });
    jest.advanceTimersByTime(1_000);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('sends a request held back by the in-flight limit when the one ahead is answered', () => {
    const q = queue();
    const sent: number[] = [];
    q.push(request(3, sent));
    q.push(request(4, sent));
    expect(sent).toEqual([3]);

    q.fulfillRequest({ correlationId: 3, size: 0, payload: Buffer.alloc(0) });
    expect(sent).toEqual([3, 4]);
  });
});
