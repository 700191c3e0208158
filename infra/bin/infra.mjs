#!/usr/bin/env node
// npm run infra:up | infra:down | infra:status
import { ensureInfra, infraStatus, stopInfra } from '../lib/infra.mjs';

const yesNo = (b) => (b ? 'yes' : 'no');

function printTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  for (const row of rows) {
    console.log(
      row
        .map((cell, i) => String(cell ?? '').padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
  }
}

async function status() {
  const s = await infraStatus();
  const rows = [
    ['service', 'where', 'mode', 'answering', 'started by CareRelay', 'pid', 'version'],
    [
      'kafka',
      s.kafka.brokers,
      s.kafka.mode,
      yesNo(s.kafka.answering),
      s.kafka.startedByUs ? `yes (${s.kafka.startedBy})` : 'no',
      s.kafka.pid,
      s.kafka.version ?? `(configured ${s.kafka.configuredVersion})`,
    ],
    [
      'postgres',
      s.postgres.url,
      s.postgres.mode,
      yesNo(s.postgres.answering),
      s.postgres.startedByUs ? `yes (${s.postgres.startedBy})` : 'no',
      s.postgres.pid,
      s.postgres.version,
    ],
  ];
  if (s.embeddedPostgres) {
    const e = s.embeddedPostgres;
    rows.push(['postgres', e.url, 'embedded (idle)', '', `yes (${e.startedBy})`, e.pid, '']);
  }
  printTable(rows);
  if (s.kafka.log) console.log(`\nKafka log: ${s.kafka.log}`);
  for (const [name, x] of [
    ['kafka', s.kafka],
    ['postgres', s.postgres],
  ]) {
    if (x.error) console.log(`${name}: ${x.error}`);
  }
  return s.kafka.answering && s.postgres.answering ? 0 : 3;
}

async function main(command) {
  switch (command) {
    case 'up': {
      const env = await ensureInfra({ owner: 'infra:up' });
      console.log(`KAFKA_BROKERS=${env.KAFKA_BROKERS}`);
      console.log(`DATABASE_URL=${env.DATABASE_URL}`);
      console.log('');
      await status();
      console.log('\nStop what CareRelay started with: npm run infra:down');
      return 0;
    }
    case 'down': {
      const stopped = await stopInfra();
      for (const { what, pid, result } of stopped) console.log(`${what} (pid ${pid}): ${result}`);
      if (stopped.length === 0) console.log('nothing started by CareRelay was running');
      return 0;
    }
    case 'status':
      return status();
    default:
      console.error('usage: node infra/bin/infra.mjs up|down|status');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`infra ${process.argv[2]} failed: ${err.message}`);
    process.exit(1);
  },
);
