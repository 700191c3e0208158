/**
 * The sum of a metric's samples on a service's `/metrics` (Prometheus text format): those whose
 * labels include every label given (all of them when none is), 0 when none is exposed yet.
 * `baseUrl` is where the service answers `/metrics` (its management URL).
 */
export async function metricValue(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const answer = await fetch(`${baseUrl.replace(/\/$/, '')}/metrics`);
  if (!answer.ok) throw new Error(`GET ${baseUrl}/metrics answered ${answer.status}`);
  return sumOfSamples(await answer.text(), name, labels);
}

/** `metricValue` of an exposition already read. */
export function sumOfSamples(
  exposition: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  // A name with labels in it would match no sample and read as 0: a check that cannot fail.
  if (!/^[a-zA-Z_:][\w:]*$/.test(name))
    throw new Error(`"${name}" is not a metric name: give its labels as the third argument`);
  let sum = 0;
  for (const line of exposition.split('\n')) {
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample || sample[1] !== name) continue;
    const own = new Map(
      [...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => own.get(key) === value))
      sum += Number(sample[3]);
  }
  return sum;
}
