import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PYTHON } from '@keymint/test-kit';
import { REPO, type RunResult } from '../helpers.js';

/** The packages keymint publishes, by directory. */
export const PUBLISHED = [
  'packages/core',
  'packages/backend-software',
  'packages/backend-pkcs11',
  'packages/backend-keychain',
  'apps/cli',
] as const;
/** The third-party backend: not a workspace package; built, packed and installed by the test. */
export const FIXTURE = join(REPO, 'test', 'fixtures', 'keymint-backend-dir');

/** Where a command is on this machine's PATH, links followed. */
export function which(command: string): string | undefined {
  const result = spawnSync('/bin/sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return result.status === 0 ? realpathSync(result.stdout.trim()) : undefined;
}

/** npm's own script: run with this Node, whatever PATH the test gives npm. */
export const NPM_CLI = which('npm') as string;

/**
 * Runs a program with exactly `env` (nothing inherited: no npm_config_* of the pnpm that runs the
 * tests, no PATH unless given).
 */
export function runClean(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

function check(result: RunResult, what: string): RunResult {
  if (result.code !== 0) throw new Error(`${what} exited ${String(result.code)}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** `pnpm pack` of every published package (workspace:* become versions); returns the tarballs. */
export async function packWorkspace(dest: string): Promise<string[]> {
  const tarballs: string[] = [];
  for (const dir of PUBLISHED) {
    const result = check(
      await runClean(which('pnpm') as string, ['pack', '--pack-destination', dest, '--json'], {
        cwd: join(REPO, dir),
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/' },
      }),
      `pnpm pack in ${dir}`,
    );
    tarballs.push((JSON.parse(result.stdout) as { filename: string }).filename);
  }
  return tarballs;
}

/** A dependency as Node finds it from `from`: the nearest node_modules/<name>, links followed. */
function findPackage(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The directories of every third-party package the published packages need at run time (their
 * dependencies and optional dependencies, transitively), as this checkout's install holds them.
 * Optional ones this platform did not install (other platforms' binaries) are left out.
 */
export function productionClosure(): string[] {
  const workspace = new Set(PUBLISHED.map((dir) => realpathSync(join(REPO, dir))));
  const found = new Set<string>();
  const queue = [...workspace];
  for (let dir = queue.shift(); dir !== undefined; dir = queue.shift()) {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string> | undefined
    >;
    const names = [
      ...Object.keys(pkg.dependencies ?? {}).map((n) => [n, false] as const),
      ...Object.keys(pkg.optionalDependencies ?? {}).map((n) => [n, true] as const),
    ];
    for (const [name, optional] of names) {
      const path = findPackage(dir, name);
      if (path === undefined && !optional)
        throw new Error(`${name}, a dependency of ${dir}, is not installed: run pnpm install`);
      if (path === undefined || workspace.has(path) || found.has(path)) continue;
      found.add(path);
      queue.push(path);
    }
  }
  return [...found];
}

/**
 * `npm pack` of package directories, each copied first (links followed, no node_modules): npm
 * packs what the package's own `files` list names, as its publisher did.
 */
export async function npmPack(
  dirs: readonly string[],
  dest: string,
  staging: string,
  env: Record<string, string>,
): Promise<string[]> {
  const copies = dirs.map((dir, i) => {
    const copy = join(staging, `${i}-${basename(dir)}`);
    cpSync(dir, copy, { recursive: true, dereference: true, filter: (source) => basename(source) !== 'node_modules' });
    return copy;
  });
  const result = check(
    await runClean(
      process.execPath,
      [NPM_CLI, 'pack', ...copies, '--pack-destination', dest, '--ignore-scripts', '--json'],
      { cwd: staging, env },
    ),
    'npm pack',
  );
  return (JSON.parse(result.stdout) as { filename: string }[]).map((p) => join(dest, p.filename));
}

/** Compiles the fixture backend with the workspace's tsc into a copy of its package, and packs that. */
export async function packFixture(dest: string, staging: string, env: Record<string, string>): Promise<string> {
  const copy = join(staging, 'keymint-backend-dir');
  mkdirSync(copy, { recursive: true });
  for (const file of ['package.json', 'README.md']) cpSync(join(FIXTURE, file), join(copy, file));
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  check(
    await runClean(process.execPath, [tsc, '-p', join(FIXTURE, 'tsconfig.json'), '--outDir', join(copy, 'dist')], {
      cwd: FIXTURE,
      env,
    }),
    'tsc of the fixture',
  );
  const result = check(
    await runClean(process.execPath, [NPM_CLI, 'pack', copy, '--pack-destination', dest, '--json'], {
      cwd: staging,
      env,
    }),
    'npm pack of the fixture',
  );
  return join(dest, (JSON.parse(result.stdout) as { filename: string }[])[0]?.filename as string);
}

/** What a C/C++ build needs and the no-toolchain PATH leaves out. */
export const TOOLCHAIN = ['make', 'gcc', 'g++', 'cc', 'c++'] as const;

/**
 * A directory of links to node, npm, sh, python3 and a few basic tools, and nothing else: as PATH
 * it is a machine without make or a C/C++ compiler, where node-gyp still finds Python and fails
 * on the build itself.
 */
export function toolsWithoutCompilers(dir: string): string {
  mkdirSync(dir, { recursive: true });
  symlinkSync(process.execPath, join(dir, 'node'));
  symlinkSync(NPM_CLI, join(dir, 'npm'));
  symlinkSync(PYTHON, join(dir, 'python3'));
  for (const tool of [
    'sh',
    'env',
    'cat',
    'ls',
    'mkdir',
    'rm',
    'cp',
    'mv',
    'ln',
    'chmod',
    'sed',
    'grep',
    'uname',
    'dirname',
    'basename',
    'readlink',
  ]) {
    const path = which(tool);
    if (path !== undefined) symlinkSync(path, join(dir, tool));
  }
  return dir;
}
