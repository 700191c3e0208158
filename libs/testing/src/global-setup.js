// Jest global setup for the integration and e2e tiers: make sure a real Kafka broker and a
// real PostgreSQL are reachable, starting them through the project's own infra scripts.
module.exports = async () => {
  const { ensureInfra } = await import('../../../infra/lib/infra.mjs');
  const env = await ensureInfra({ quiet: true });
  Object.assign(process.env, env);
};
