// Starting the network's processes, waiting until they are ready, stopping them.
/* global AbortSignal */
import { spawn } from 'node:child_process';

import { HOST, ROOT, sleep, tcpAnswers } from '../common.mjs';

/** Nothing accepts connections on the port (loopback). */
export const portFree = async (port) => !(await tcpAnswers(port, HOST, 500));

// CARERELAY_CPU_PROF_DIR: every process is profiled and writes its CPU profile there on SIGWINCH.
const profiling = process.env.CARERELAY_CPU_PROF_DIR ? ['-r', './infra/lib/cpu-profile.cjs'] : [];

export function spawnNode(args, env, extra = {}) {
  return spawn(process.execPath, [...profiling, '-r', './infra/lib/register-paths.cjs', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(extra.ipc ? ['ipc'] : [])],
  });
}

export async function httpGet(url, timeoutMs = 2000) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    return { status: response.status, text };
  } catch (error) {
    return { status: 0, text: error.cause?.code ?? error.message };
  }
}

/**
 * Waits until the process answers /health/ready (on its management listener) with 200. An app
 * without /health/ready (404) counts as ready once it answers HTTP at all, and says so.
 */
export async function waitReady(proc, { timeoutMs }) {
  const started = Date.now();
  const url = `http://${HOST}:${proc.managementPort ?? proc.port}/health/ready`;
  let last = 'no answer yet';
  while (Date.now() - started < timeoutMs) {
    if (proc.exitCode !== undefined) {
      return { ok: false, reason: `exited with code ${proc.exitCode} during start-up` };
    }
    const answer = await httpGet(url);
    if (answer.status === 200) return { ok: true, ms: Date.now() - started, health: 'ready' };
    if (answer.status === 404) {
      return { ok: true, ms: Date.now() - started, health: 'answers (no /health/ready)' };
    }
    last = answer.status ? `HTTP ${answer.status} ${answer.text.slice(0, 200)}` : answer.text;
    await sleep(400);
  }
  return { ok: false, reason: `not ready after ${Math.round(timeoutMs / 1000)} s (${last})` };
}

export async function stopProcess(proc, timeoutMs = 10_000) {
  const child = proc.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', resolve);
  });
  clearTimeout(timer);
}
