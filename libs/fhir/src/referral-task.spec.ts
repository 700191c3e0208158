import { isReferralSourceTask } from './referral-task';
import { TASK_CODE_SYSTEM } from './sdohcc-definitions';

const referral = {
  resourceType: 'Task',
  status: 'requested',
  intent: 'order',
  code: { coding: [{ system: TASK_CODE_SYSTEM, code: 'fulfill' }] },
};

describe('isReferralSourceTask', () => {
  it('takes a requested fulfill order that is part of no other Task', () => {
    expect(isReferralSourceTask(referral)).toBe(true);
    expect(isReferralSourceTask({ ...referral, partOf: [] })).toBe(true);
  });

  it('refuses other statuses, intents, codes, sub-Tasks and nothing at all', () => {
    expect(isReferralSourceTask({ ...referral, status: 'draft' })).toBe(false);
    expect(isReferralSourceTask({ ...referral, intent: 'plan' })).toBe(false);
    expect(
      isReferralSourceTask({
        ...referral,
        code: { coding: [{ system: 'urn:x', code: 'fulfill' }] },
      }),
    ).toBe(false);
    expect(isReferralSourceTask({ ...referral, code: undefined })).toBe(false);
    expect(isReferralSourceTask({ ...referral, partOf: [{ reference: 'Task/1' }] })).toBe(false);
    expect(isReferralSourceTask(undefined)).toBe(false);
  });
});
