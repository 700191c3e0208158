#!/usr/bin/env node
// `npm run status`: every process of the running network(s) with its pid and resident memory,
// and Kafka and PostgreSQL (with theirs when they run on this machine). Exit code 3 when a
// network is recorded but one of its processes is gone.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { infraStatus, STATE_DIR } from '../lib/infra.mjs';

const NETWORK_FILES = [
  ['npm start', path.join(STATE_DIR, 'demo', 'network.json')],
  ['e2e', path.join(STATE_DIR, 'e2e', 'network.json')],
  ['bench', path.join(STATE_DIR, 'bench', 'network.json')],
];

/** The pid of the process listening on a local TCP port (Linux /proc), or undefined. */
export function pidListeningOn(port) {
  const inodes = new Set();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const row of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
        const cols = row.trim().split(/\s+/);
        if (cols.length < 10 || cols[3] !== '0A') continue; // 0A: LISTEN
        if (Number.parseInt(cols[1].split(':')[1], 16) === port) inodes.add(cols[9]);
      }
    } catch {
      // no /proc
    }
  }
  if (inodes.size === 0) return undefined;
  for (const dir of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const fd of fs.readdirSync(`/proc/${dir}/fd`)) {
        const link = fs.readlinkSync(`/proc/${dir}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode && inodes.has(inode)) return Number(dir);
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

const portOf = (hostPort) =>
  Number(
    String(hostPort ?? '')
      .split(',')[0]
      .split(':')[1],
  );

/** Resident memory of a pid in bytes (Linux /proc), or undefined; `field` RssAnon: private only. */
export function rssOf(pid, field = 'VmRSS') {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(status)?.[1]);
    return Number.isFinite(kb) ? kb * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The fields of /proc/<pid>/stat from the state on (state 0, ppid 1, utime 11, stime 12, cutime
 * 13, cstime 14), read past the command name's last ")" (a name may hold ") "); undefined when
 * the process is gone.
 */
function statFieldsOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
  } catch {
    return undefined;
  }
}

/** A process's parent pid, or undefined when it is gone. */
export const parentPidOf = (pid) => statFieldsOf(pid)?.[1];

/** The pids of a process's children (PostgreSQL's backends), from /proc. */
export function childrenOf(pid) {
  try {
    return fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((d) => parentPidOf(d) === Number(pid));
  } catch {
    return [];
  }
}

/** A pid whose command line contains every needle (scan of /proc), or undefined. */
function findProcess(...needles) {
  try {
    return fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .find((pid) => {
        try {
          const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          return needles.every((n) => cmdline.includes(n));
        } catch {
          return false;
        }
      });
  } catch {
    return undefined;
  }
}

/** PostgreSQL's postmaster: ours (embedded) or the local server's (`postgres -D <data>`). */
export function postgresPid(status) {
  return status.postgres.pid ?? findProcess('postgres', '-D');
}

export function kafkaPid(status) {
  return status.kafka.pid ?? findProcess('kafka.Kafka');
}

/**
 * Proportional set size of a pid in bytes (Linux smaps_rollup), or undefined: its private pages
 * plus its share of each page it shares with other processes. Summed over processes it counts
 * a shared page once, where RSS counts it in every process that maps it (the node binary's text,
 * about 50 MiB, in each app).
 */
export function pssOf(pid) {
  try {
    const kb = Number(
      /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1],
    );
    return Number.isFinite(kb) ? kb * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL's proportional set size, the postmaster's and every backend's; undefined when the
 * postmaster's is not ours to read (a backend that ended meanwhile counts 0).
 */
export function postgresPss(pid) {
  const own = pssOf(pid);
  if (own === undefined) return undefined;
  return childrenOf(pid).reduce((sum, p) => sum + (pssOf(p) ?? 0), own);
}

/** The postmaster's RSS, each backend's private memory, and the shared buffers once. */
export function postgresRss(pid) {
  const children = childrenOf(pid);
  return (
    (rssOf(pid) ?? 0) +
    children.reduce((sum, c) => sum + (rssOf(c, 'RssAnon') ?? 0), 0) +
    Math.max(0, ...children.map((c) => rssOf(c, 'RssShmem') ?? 0))
  );
}

/**
 * CPU seconds a process has used (user + system, from /proc; Linux counts in 1/100 s). With
 * `children`, also its children's: the live ones' and those it has reaped (PostgreSQL's backends).
 */
export function cpuSecondsOf(pid, { children = false } = {}) {
  const own = statFieldsOf(pid);
  if (!own) return undefined;
  let ticks = own[11] + own[12];
  if (children) {
    ticks += own[13] + own[14];
    for (const child of childrenOf(pid)) {
      const f = statFieldsOf(child);
      if (f) ticks += f[11] + f[12];
    }
  }
  return ticks / 100;
}

export const mib = (bytes) => (bytes === undefined ? '-' : `${(bytes / 1024 ** 2).toFixed(0)} MiB`);

/** Rows of { what, pid, rss, note } for the network recorded in `file` plus the infrastructure. */
export async function collectStatus({ files = NETWORK_FILES } = {}) {
  const rows = [];
  let missing = 0;
  const brokers = new Map(); // host:port -> networks using it
  const databases = new Map();
  for (const [label, file] of files) {
    if (!fs.existsSync(file)) continue;
    const network = JSON.parse(fs.readFileSync(file, 'utf8'));
    const orchestratorAlive = fs.existsSync(`/proc/${network.pid}`) || isAlive(network.pid);
    if (!orchestratorAlive) continue; // a crashed run's leftover file
    rows.push({
      what: `${label} (orchestrator)`,
      pid: network.pid,
      rss: rssOf(network.pid),
      note: network.fhirBaseUrl,
    });
    if (network.kafkaBrokers)
      brokers.set(network.kafkaBrokers, [...(brokers.get(network.kafkaBrokers) ?? []), label]);
    if (network.postgres)
      databases.set(network.postgres, [...(databases.get(network.postgres) ?? []), label]);
    for (const p of network.processes) {
      const alive = isAlive(p.pid);
      if (!alive) missing += 1;
      rows.push({
        what: `  ${p.name}`,
        pid: p.pid,
        rss: alive ? rssOf(p.pid) : undefined,
        note: alive ? (p.url ?? '') : 'NOT RUNNING',
      });
    }
  }
  const infra = await infraStatus();
  const kPid = kafkaPid(infra);
  rows.push({
    what: 'kafka',
    pid: kPid,
    rss: kPid ? rssOf(kPid) : undefined,
    note: `${infra.kafka.brokers} ${infra.kafka.mode}${infra.kafka.startedByUs ? ' (started by CareRelay)' : ''}${infra.kafka.answering ? '' : ' NOT ANSWERING'}`,
  });
  // Brokers of their own (a benchmark's, an isolated test run's): found by their port.
  for (const [hostPort, users] of brokers) {
    if (hostPort === infra.kafka.brokers) continue;
    const pid = pidListeningOn(portOf(hostPort));
    rows.push({
      what: 'kafka',
      pid,
      rss: pid ? rssOf(pid) : undefined,
      note: `${hostPort} used by ${users.join(', ')}${pid ? '' : ' NOT RUNNING'}`,
    });
  }
  const pPid =
    [...databases.keys()].map((hostPort) => pidListeningOn(portOf(hostPort))).find(Boolean) ??
    postgresPid(infra);
  const pgPids = pPid ? [pPid, ...childrenOf(pPid)] : [];
  rows.push({
    what: 'postgresql',
    pid: pPid,
    rss: pPid ? postgresRss(pPid) : undefined,
    note: `${infra.postgres.mode}${infra.postgres.startedByUs ? ' (started by CareRelay)' : ''}, ${pgPids.length} processes${infra.postgres.answering ? '' : ' NOT ANSWERING'}`,
  });
  return { rows, missing };
}

function isAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

export function printRows(rows) {
  const table = [
    ['process', 'pid', 'rss', ''],
    ...rows.map((r) => [r.what, r.pid ?? '-', mib(r.rss), r.note ?? '']),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => String(r[i]).length)));
  for (const row of table) {
    console.log(
      row
        .map((c, i) => String(c).padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
  }
  const total = rows.reduce((sum, r) => sum + (r.rss ?? 0), 0);
  console.log(`${'total resident'.padEnd(widths[0])}  ${''.padEnd(widths[1])}  ${mib(total)}`);
}

async function main() {
  const { rows, missing } = await collectStatus();
  if (!rows.some((r) => r.what.includes('orchestrator'))) {
    console.log('no CareRelay network is running (npm start)\n');
  }
  printRows(rows);
  return missing > 0 ? 3 : 0;
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`status failed: ${err.message}`);
      process.exit(1);
    },
  );
}
