import { formatDuration, parseDuration } from './duration';
import { DeadlineRule, FollowupPolicy } from './followup-policy';
import type { DeadlineRuleDto, PolicyDto } from './policy.dto';
import type { StoredPolicy } from './policy.store';

/** Normalizes a validated body; returns the problems that need more than one field to see. */
export function policyFromDto(
  networkId: string,
  dto: PolicyDto,
): { policy: FollowupPolicy; problems: string[] } {
  const problems: string[] = [];
  const rule = (name: string, body: DeadlineRuleDto, calendar: DeadlineRule['calendar']) => {
    const result: DeadlineRule = {
      withinSeconds: parseDuration(body.within),
      calendar: body.calendar ?? calendar,
    };
    if (result.withinSeconds <= 0) problems.push(`${name}.within must be longer than zero`);
    if (body.warnBefore !== undefined) {
      result.warnBeforeSeconds = parseDuration(body.warnBefore);
      if (result.warnBeforeSeconds >= result.withinSeconds) {
        problems.push(`${name}.warnBefore must be shorter than ${name}.within`);
      }
    }
    return result;
  };
  const acceptance = rule('acceptance', dto.acceptance, 'business');
  const reminderSeconds = (dto.reminders ?? []).map((spec) => parseDuration(spec));
  reminderSeconds.forEach((seconds, index) => {
    if (seconds <= 0) problems.push(`reminders.${index} must be longer than zero`);
  });
  const organizations = [...new Set(dto.organizations ?? [])];
  return {
    policy: {
      networkId,
      timeZone: dto.timeZone ?? 'UTC',
      holidays: [...new Set(dto.holidays ?? [])].sort(),
      acceptance,
      reminderSeconds: [...new Set(reminderSeconds)].sort((a, b) => a - b),
      closure: rule('closure', dto.closure, 'calendar'),
      organizations,
    },
    problems,
  };
}

const ruleView = (rule: DeadlineRule) => ({
  within: formatDuration(rule.withinSeconds),
  withinSeconds: rule.withinSeconds,
  calendar: rule.calendar,
  ...(rule.warnBeforeSeconds !== undefined
    ? {
        warnBefore: formatDuration(rule.warnBeforeSeconds),
        warnBeforeSeconds: rule.warnBeforeSeconds,
      }
    : {}),
});

/** The answer of the policy endpoints: durations both as ISO-8601 and as seconds. */
export function policyView(policy: StoredPolicy) {
  return {
    networkId: policy.networkId,
    timeZone: policy.timeZone,
    holidays: policy.holidays,
    acceptance: ruleView(policy.acceptance),
    reminders: policy.reminderSeconds.map(formatDuration),
    reminderSeconds: policy.reminderSeconds,
    closure: ruleView(policy.closure),
    organizations: policy.organizations,
    updatedAt: policy.updatedAt.toISOString(),
  };
}
