import { reachableStatus } from './referral-fhir.gateway';

describe('reachableStatus', () => {
  it('moves the source Task where the IG allows the platform to', () => {
    expect(reachableStatus('requested', 'accepted')).toBe('accepted');
    expect(reachableStatus('accepted', 'on-hold')).toBe('on-hold');
    expect(reachableStatus('in-progress', 'completed')).toBe('completed');
  });

  it('keeps the status when the move is not in the transition table', () => {
    expect(reachableStatus('requested', 'on-hold')).toBe('requested');
    expect(reachableStatus('completed', 'in-progress')).toBe('completed');
  });

  it('rejects a referral it never accepted instead of failing it', () => {
    expect(reachableStatus('requested', 'failed')).toBe('rejected');
  });
});
