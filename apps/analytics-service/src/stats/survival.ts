/** One subject: time from start until the event, or until it was last seen without it. */
export interface Observation {
  time: number;
  /** true: the event happened at `time`; false: censored at `time` (still open). */
  event: boolean;
}

export interface SurvivalStep {
  time: number;
  atRisk: number;
  events: number;
  /** S(time): the estimated share still without the event just after `time`. */
  survival: number;
}

/**
 * Kaplan–Meier product-limit estimate. At tied times, events are taken before censorings (the
 * usual convention: someone censored at t was at risk at t).
 */
export function kaplanMeier(observations: readonly Observation[]): SurvivalStep[] {
  const sorted = [...observations].sort((a, b) => a.time - b.time);
  let atRisk = sorted.length;
  let survival = 1;
  const steps: SurvivalStep[] = [];
  for (let i = 0; i < sorted.length;) {
    const time = sorted[i].time;
    let events = 0;
    let censored = 0;
    while (i < sorted.length && sorted[i].time === time) {
      if (sorted[i].event) events++;
      else censored++;
      i++;
    }
    if (events > 0) {
      survival *= 1 - events / atRisk;
      steps.push({ time, atRisk, events, survival });
    }
    atRisk -= events + censored;
  }
  return steps;
}

/**
 * The time by which a share `p` of subjects has had the event: the smallest t with
 * 1 − S(t) ≥ p (median: p = 0.5; p90: p = 0.9). null when the curve never gets there (too many
 * still open): "not reached", never a guess.
 */
export function kaplanMeierQuantile(steps: readonly SurvivalStep[], p: number): number | null {
  const target = 1 - p + 1e-12;
  return steps.find((s) => s.survival <= target)?.time ?? null;
}

export interface TimeToEventSummary {
  events: number;
  censored: number;
  median: number | null;
  p90: number | null;
}

export function timeToEvent(observations: readonly Observation[]): TimeToEventSummary {
  const steps = kaplanMeier(observations);
  const events = observations.filter((o) => o.event).length;
  return {
    events,
    censored: observations.length - events,
    median: kaplanMeierQuantile(steps, 0.5),
    p90: kaplanMeierQuantile(steps, 0.9),
  };
}

/**
 * Empirical quantile of complete data, the same definition as kaplanMeierQuantile without
 * censoring (the inverse of the empirical distribution function: the smallest x with F(x) ≥ p).
 */
export function quantile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length - 1e-9) - 1)];
}
