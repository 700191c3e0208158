import {
  ReferralSnapshot,
  acceptanceBreachCause,
  decideRoute,
  onCboTaskChanged,
  onConsentKnown,
  onConsentRevoked,
  onSourceCancelled,
  rejectionCause,
} from './referral-workflow.rules';

const fresh: ReferralSnapshot = {
  id: 'ref-1',
  state: 'requested',
  attempt: 0,
  targetOrganizationId: null,
  cboTaskId: null,
  triedOrganizationIds: [],
};
const routed: ReferralSnapshot = {
  ...fresh,
  state: 'routed',
  attempt: 1,
  targetOrganizationId: 'cbo-a',
  cboTaskId: 'cbo-task-1',
  triedOrganizationIds: ['cbo-a'],
};
const candidates = [
  { organizationId: 'cbo-a', serviceId: 'svc-a' },
  { organizationId: 'cbo-b', serviceId: 'svc-b' },
  { organizationId: 'cbo-c', serviceId: 'svc-c' },
];

describe('consent before routing', () => {
  it('routes when consent covers the disclosure', () => {
    expect(onConsentKnown(fresh, true)).toBe('route');
  });

  it('waits for consent otherwise, and says so on the source Task', () => {
    const decision = onConsentKnown(fresh, false);
    expect(decision).not.toBe('route');
    if (decision === 'route') return;
    expect(decision.state).toBe('awaiting-consent');
    expect(decision.events.map((e) => e.state)).toEqual(['awaiting-consent']);
    expect(decision.commands).toEqual([
      { kind: 'update-source-task', status: 'requested', businessStatus: 'awaiting-consent' },
    ]);
  });

  it('routes a referral that was waiting once consent arrives, and ignores consent for routed ones', () => {
    expect(onConsentKnown({ ...fresh, state: 'awaiting-consent' }, true)).toBe('route');
    expect(onConsentKnown(routed, true)).toMatchObject({ events: [], commands: [] });
  });
});

describe('routing', () => {
  it('sends the first attempt to the best candidate', () => {
    const decision = decideRoute(fresh, candidates);
    expect(decision.state).toBe('routed');
    expect(decision.events).toEqual([{ state: 'routed', organizationId: 'cbo-a' }]);
    expect(decision.commands[0]).toEqual({
      kind: 'create-cbo-task',
      attempt: 1,
      organizationId: 'cbo-a',
      serviceId: 'svc-a',
    });
    expect(decision.patch).toMatchObject({
      attempt: 1,
      targetOrganizationId: 'cbo-a',
      triedOrganizationIds: ['cbo-a'],
    });
  });

  it('after a rejection, announces it and goes to the next organization not tried yet', () => {
    const outcome = onCboTaskChanged(routed, {
      taskId: 'cbo-task-1',
      status: 'rejected',
      statusReason: 'No capacity',
    });
    expect(outcome).toBe('reroute');
    const decision = decideRoute(
      routed,
      candidates,
      undefined,
      rejectionCause(routed, {
        taskId: 'cbo-task-1',
        status: 'rejected',
        statusReason: 'No capacity',
      }),
    );
    expect(decision.events).toEqual([
      { state: 'rejected', reason: 'No capacity', organizationId: 'cbo-a' },
      { state: 'rerouted', organizationId: 'cbo-b' },
      { state: 'routed', organizationId: 'cbo-b' },
    ]);
    expect(decision.commands[0]).toMatchObject({
      kind: 'create-cbo-task',
      attempt: 2,
      organizationId: 'cbo-b',
    });
    expect(decision.patch).toMatchObject({
      cboTaskId: null,
      attempt: 2,
      triedOrganizationIds: ['cbo-a', 'cbo-b'],
    });
  });

  it('puts the source Task on hold for a coordinator when every match declined', () => {
    const exhausted = { ...routed, attempt: 2, triedOrganizationIds: ['cbo-a', 'cbo-b'] };
    const decision = decideRoute(exhausted, candidates.slice(0, 2), {
      maxAttempts: 3,
      whenExhausted: 'on-hold',
    });
    expect(decision.state).toBe('on-hold');
    expect(decision.commands).toEqual([
      expect.objectContaining({
        kind: 'update-source-task',
        status: 'on-hold',
        businessStatus: 'needs-coordinator',
      }),
    ]);
    expect(decision.events[0].reason).toMatch(/declined or did not respond \(2 tried\)/);
  });

  it('fails the referral when the policy says so, and bounds the attempts', () => {
    const third = { ...routed, attempt: 3, triedOrganizationIds: ['cbo-a', 'cbo-b', 'cbo-c'] };
    const more = [...candidates, { organizationId: 'cbo-d', serviceId: 'svc-d' }];
    const decision = decideRoute(third, more, { maxAttempts: 3, whenExhausted: 'failed' });
    expect(decision.state).toBe('failed');
    expect(decision.events[0].reason).toBe('No CBO accepted after 3 routing attempts');
  });

  it('with no candidate at all, says that no service matches', () => {
    const decision = decideRoute(fresh, []);
    expect(decision.state).toBe('on-hold');
    expect(decision.events[0].reason).toBe('No matching CBO service is available');
  });
});

describe('mirroring the CBO Task', () => {
  it.each([
    ['accepted', 'accepted'],
    ['in-progress', 'in-progress'],
    ['on-hold', 'on-hold'],
    ['failed', 'failed'],
  ])('mirrors %s onto the source Task', (status, state) => {
    const decision = onCboTaskChanged(routed, {
      taskId: 'cbo-task-1',
      status,
      statusReason: 'why',
    });
    expect(decision).toMatchObject({
      state,
      commands: [
        expect.objectContaining({ kind: 'update-source-task', status, statusReason: 'why' }),
      ],
    });
  });

  const procedureOutput = [
    { type: { text: 'Procedure' }, valueReference: { reference: 'Procedure/p-1' } },
  ];

  it('completes the source Task with the output and completes the source ServiceRequest', () => {
    const decision = onCboTaskChanged(
      { ...routed, state: 'in-progress' },
      { taskId: 'cbo-task-1', status: 'completed', output: procedureOutput },
    );
    if (decision === 'reroute') throw new Error('unexpected');
    // The order first: the EHR never reads a completed Task whose ServiceRequest is still active.
    expect(decision.commands).toEqual([
      { kind: 'complete-source-service-request' },
      expect.objectContaining({
        kind: 'update-source-task',
        status: 'completed',
        output: procedureOutput,
      }),
    ]);
  });

  it('carries the output of the change it decided on, and only where the status shows work', () => {
    const withOutput = (status: string) => {
      const decision = onCboTaskChanged(
        { ...routed, state: 'accepted' },
        { taskId: 'cbo-task-1', status, output: procedureOutput },
      );
      if (decision === 'reroute') throw new Error('unexpected');
      return decision.commands.find((c) => c.kind === 'update-source-task');
    };
    expect(withOutput('in-progress')).toMatchObject({ output: procedureOutput });
    expect(withOutput('on-hold')).toMatchObject({ output: procedureOutput });
    expect(withOutput('failed')).not.toHaveProperty('output');
    const without = onCboTaskChanged(
      { ...routed, state: 'in-progress' },
      { taskId: 'cbo-task-1', status: 'completed' },
    );
    if (without === 'reroute') throw new Error('unexpected');
    expect(without.commands[1]).not.toHaveProperty('output');
  });

  it('ignores a stale CBO Task (an earlier attempt) and repeated statuses', () => {
    expect(onCboTaskChanged(routed, { taskId: 'old-task', status: 'accepted' })).toMatchObject({
      events: [],
    });
    expect(
      onCboTaskChanged(
        { ...routed, state: 'accepted' },
        { taskId: 'cbo-task-1', status: 'accepted' },
      ),
    ).toMatchObject({ events: [] });
    expect(
      onCboTaskChanged(
        { ...routed, state: 'completed' },
        { taskId: 'cbo-task-1', status: 'failed' },
      ),
    ).toMatchObject({ events: [] });
  });
});

describe('deadlines, revocation and cancellation', () => {
  it('re-routes an unaccepted referral after its acceptance deadline, withdrawing the CBO Task', () => {
    const cause = acceptanceBreachCause(routed, 1)!;
    expect(cause.commands).toEqual([
      {
        kind: 'cancel-cbo-task',
        cboTaskId: 'cbo-task-1',
        reason: 'Not accepted before the acceptance deadline',
      },
    ]);
    expect(acceptanceBreachCause({ ...routed, state: 'accepted' }, 1)).toBeUndefined();
    expect(acceptanceBreachCause(routed, 0)).toBeUndefined();
  });

  it('cancels the CBO Task with a reason when consent is revoked', () => {
    const decision = onConsentRevoked({ ...routed, state: 'in-progress' }, null);
    expect(decision.state).toBe('awaiting-consent');
    expect(decision.commands).toEqual([
      {
        kind: 'cancel-cbo-task',
        cboTaskId: 'cbo-task-1',
        reason: 'Patient revoked consent to share information',
      },
      expect.objectContaining({
        kind: 'update-source-task',
        status: 'on-hold',
        businessStatus: 'awaiting-consent',
      }),
    ]);
  });

  it('ignores a revocation that names another organization', () => {
    expect(onConsentRevoked(routed, 'cbo-z').events).toEqual([]);
  });

  it('withdraws the CBO Task when the requester cancels', () => {
    const decision = onSourceCancelled(routed, 'Patient moved away');
    expect(decision.state).toBe('cancelled');
    expect(decision.commands).toEqual([
      { kind: 'cancel-cbo-task', cboTaskId: 'cbo-task-1', reason: 'Patient moved away' },
    ]);
  });
});
