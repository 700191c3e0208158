// How the apps' log lines reach the terminal and their log files.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_NUMBERS = {
  TRACE: 10,
  DEBUG: 20,
  INFO: 30,
  WARN: 40,
  ERROR: 50,
  FATAL: 60,
  NOTHING: 30,
};
const NOT_SHOWN = new Set([
  'level',
  'time',
  'timestamp',
  'pid',
  'hostname',
  'service',
  'msg',
  'message',
  'context',
]);

/**
 * How an app's log line shows on the terminal (the log file keeps it as it came: JSON). JSON
 * lines become `LEVEL msg key=value ...`; unless `verbose`, the per-request and per-event lines
 * at info level (`msg: request`, lines with an `eventId`) stay in the file only.
 * @returns {string|undefined} undefined: not shown
 */
export function terminalLine(line, { verbose = false } = {}) {
  if (!line.startsWith('{')) return line;
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  // pino's numeric levels; kafkajs's JSON lines name theirs (and say `message`).
  const level =
    typeof entry.level === 'string'
      ? (LEVEL_NUMBERS[entry.level.toUpperCase()] ?? 30)
      : Number(entry.level ?? 30);
  if (!verbose && level <= 30 && (entry.msg === 'request' || entry.eventId)) return undefined;
  const parts = [];
  if (level !== 30) parts.push(LEVELS[level] ?? `level ${level}`);
  if (entry.context) parts.push(`${entry.context}:`);
  const message = entry.msg ?? entry.message;
  if (message !== undefined) parts.push(String(message));
  for (const [key, value] of Object.entries(entry)) {
    if (NOT_SHOWN.has(key) || value === undefined || value === null) continue;
    let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
    if (text.length > 300) text = `${text.slice(0, 300)}...`;
    parts.push(`${key}=${text}`);
  }
  return parts.join(' ');
}

export function makeOutput(logDir, quiet, width, verbose = false) {
  fs.mkdirSync(logDir, { recursive: true });
  return (name, child) => {
    const file = fs.createWriteStream(path.join(logDir, `${name.replace(/:/g, '-')}.log`), {
      flags: 'a',
    });
    const recent = [];
    const prefix = `[${name}]`.padEnd(width + 2);
    const onLine = (stream) => (line) => {
      file.write(`${line}\n`);
      recent.push(line);
      if (recent.length > 40) recent.shift();
      if (quiet) return;
      const shown = terminalLine(line, { verbose });
      if (shown !== undefined) stream.write(`${prefix} ${shown}\n`);
    };
    readline.createInterface({ input: child.stdout }).on('line', onLine(process.stdout));
    readline.createInterface({ input: child.stderr }).on('line', onLine(process.stderr));
    child.once('exit', () => setTimeout(() => file.end(), 100));
    return { recent, file: file.path };
  };
}
