import { isBrokerSettling, whenBrokerSettled } from './kafka-settling';

const protocolError = (type: string) => Object.assign(new Error(type), { type });

describe('whenBrokerSettled', () => {
  it('retries while the broker is settling, then returns the answer', async () => {
    let calls = 0;
    const answer = await whenBrokerSettled(
      async () => {
        calls += 1;
        if (calls < 3) throw protocolError('NOT_LEADER_FOR_PARTITION');
        return 'offsets';
      },
      { delayMs: 1 },
    );
    expect({ answer, calls }).toEqual({ answer: 'offsets', calls: 3 });
  });

  it('throws at once an error that is not the broker settling', async () => {
    let calls = 0;
    const failing = whenBrokerSettled(
      async () => {
        calls += 1;
        throw protocolError('TOPIC_AUTHORIZATION_FAILED');
      },
      { delayMs: 1 },
    );
    await expect(failing).rejects.toThrow('TOPIC_AUTHORIZATION_FAILED');
    expect(calls).toBe(1);
  });

  it('gives up after the attempts it was given', async () => {
    let calls = 0;
    const failing = whenBrokerSettled(
      async () => {
        calls += 1;
        throw protocolError('LEADER_NOT_AVAILABLE');
      },
      { attempts: 4, delayMs: 1 },
    );
    await expect(failing).rejects.toThrow('LEADER_NOT_AVAILABLE');
    expect(calls).toBe(4);
  });

  it('recognises the error kafkajs wraps after its own retries', () => {
    const wrapped = Object.assign(new Error('retries exceeded'), {
      originalError: protocolError('UNKNOWN_TOPIC_OR_PARTITION'),
    });
    expect(isBrokerSettling(wrapped)).toBe(true);
    expect(isBrokerSettling(new Error('connection refused'))).toBe(false);
  });
});
