import { ChildProcess, spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const ROOT = join(__dirname, '..', '..', '..');
const SOURCES = [
  'apps/followup-service/src',
  'libs/auth/src',
  'libs/config/src',
  'libs/contracts/src',
  'libs/messaging/src',
  'libs/observability/src',
  'libs/persistence/src',
];

function* typescriptFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* typescriptFiles(path);
    else if (name.endsWith('.ts') && !/\.(int-)?spec\.ts$/.test(name)) yield path;
  }
}

/**
 * Compiles the service and the libraries it uses file by file (no type check: tsc does that) into
 * a directory laid out like dist/, so it runs as `npm start` runs it.
 */
export function compileService(): string {
  const out = mkdtempSync(join(tmpdir(), 'carerelay-followup-'));
  const { compilerOptions } = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8'));
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    experimentalDecorators: compilerOptions.experimentalDecorators,
    emitDecoratorMetadata: compilerOptions.emitDecoratorMetadata,
    esModuleInterop: true,
  };
  for (const source of SOURCES) {
    for (const file of typescriptFiles(join(ROOT, source))) {
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        compilerOptions: options,
        fileName: file,
      });
      const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
  }
  return out;
}

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the compiled service as its own process; resolves once it listens. */
export async function startServiceProcess(
  distDir: string,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  const child = spawn(
    process.execPath,
    ['-r', './infra/lib/register-paths.cjs', join(distDir, 'apps/followup-service/src/main.js')],
    {
      cwd: ROOT,
      // The compiled files live outside the repository: resolve packages from its node_modules.
      env: {
        ...process.env,
        ...env,
        CARERELAY_DIST_DIR: distDir,
        NODE_PATH: join(ROOT, 'node_modules'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error(`no start within 60 s:\n${output}`)), 60_000);
    const check = () => {
      // main.ts logs a JSON line: {"service":"followup-service",…,"url":"http://…","msg":"listening"}
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/.exec(output);
      if (match) {
        clearTimeout(timeout);
        resolve(match[1].replace('[::1]', '127.0.0.1'));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timeout);
      reject(new Error(`exited with ${code} before listening:\n${output}`));
    });
  });
  return { child, url, output: () => output, exited };
}
