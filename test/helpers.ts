import { createHash, createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flattenedDecrypt, type FlattenedJWE } from 'jose';
import { expect, onTestFinished } from 'vitest';
import { PYTHON } from '@keymint/test-kit';

/** The monorepo root; the tests run the CLI that `turbo run build` left in apps/cli/dist. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(REPO, 'apps', 'cli', 'dist', 'bin.cjs');
export const FIXTURES = join(REPO, 'test', 'fixtures');

/**
 * The exit code of each error code, as the README's table documents them: written here
 * independently of apps/cli/src/exit-codes.ts, so that a change there fails these tests.
 */
export const EXIT = {
  USAGE: 2,
  PASSWORD_REQUIRED: 2,
  PARAM_INVALID: 3,
  ALG_NOT_SUPPORTED: 4,
  BACKEND_UNAVAILABLE: 5,
  DECRYPT_FAILED: 6,
  FILE_EXISTS: 7,
  IO: 8,
  INPUT_INVALID: 9,
  TOKEN_NOT_FOUND: 10,
  PIN_INCORRECT: 11,
  PIN_LOCKED: 12,
  TOKEN_FULL: 13,
  TOKEN_READ_ONLY: 14,
  KEY_EXISTS: 15,
  KEY_NOT_FOUND: 16,
  BACKEND_LOCKED: 17,
  SIGNATURE_INVALID: 18,
  MODULE_UNTRUSTED: 19,
} as const;

/** A low PBES2 count keeps most tests fast; the default (600000) gets its own tests. */
export const FAST = ['--pbes2-count', '1000'] as const;
export const PASSWORD = 'correct horse battery staple';

if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "pnpm exec turbo run build" first`);

export interface RunResult {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Working directory: the test's temp dir. */
  cwd: string;
  /** Text on standard input; without it stdin is /dev/null. */
  input?: string;
  /** Run under this umask (through sh, as a user's shell would). */
  umask?: string;
  /** Run as this user and group (the tests run as root, who can read any file). */
  user?: { uid: number; gid: number };
  env?: Record<string, string>;
}

/** A program started by `startProgram`: the child, and its result once it has exited. */
export interface StartedProgram {
  child: ChildProcess;
  /** The run's result, and performance.now() when it exited (before its output was closed). */
  done: Promise<RunResult & { endedAt: number }>;
}

/**
 * Starts a program in its own session, so it has no controlling terminal: keymint must then fail
 * instead of prompting, whatever terminal the test runner itself has. The child is handed back
 * for tests that signal it.
 */
export function startProgram(command: string, args: readonly string[], options: RunOptions): StartedProgram {
  const child = spawn(command, args, {
    cwd: options.cwd,
    detached: true,
    env: { ...process.env, KEYMINT_DEBUG: '', ...options.env },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...(options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid }),
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const done = new Promise<RunResult & { endedAt: number }>((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('exit', () => {
      const endedAt = performance.now();
      child.on('close', (code, signal) =>
        resolvePromise({
          code,
          signal,
          endedAt,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        }),
      );
    });
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  return { child, done };
}

/** Runs a program as `startProgram` starts it, and returns what it did. */
export async function runProgram(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const { endedAt: _endedAt, ...result } = await startProgram(command, args, options).done;
  return result;
}

let binForOthers: string | undefined;

/**
 * The built CLI as another user can run it. The clone may sit in a directory only its owner can
 * enter (a clone in /root), so a run as `nobody` gets a world-readable copy of the bundle outside
 * it, made once per test process.
 */
function binForUser(): string {
  if (binForOthers === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'keymint-cli-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    // The bundle is ES modules: it needs its package.json ("type": "module") beside it.
    cpSync(join(REPO, 'apps', 'cli', 'package.json'), join(dir, 'package.json'));
    cpSync(dirname(BIN), join(dir, 'dist'), { recursive: true });
    for (const entry of [dir, ...readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((p) => join(dir, p))]) {
      chmodSync(entry, statSync(entry).isDirectory() ? 0o755 : 0o644);
    }
    binForOthers = join(dir, 'dist', 'bin.cjs');
  }
  return binForOthers;
}

/** Runs the built `keymint` with the given arguments. */
export function keymint(args: readonly string[], options: RunOptions): Promise<RunResult> {
  const bin = options.user === undefined ? BIN : binForUser();
  if (options.umask !== undefined) {
    return runProgram(
      '/bin/sh',
      ['-c', `umask ${options.umask}; exec "$0" "$@"`, process.execPath, bin, ...args],
      options,
    );
  }
  return runProgram(process.execPath, [bin, ...args], options);
}

/** A fresh temp dir for one test, removed when the test ends. */
/** `text` as a regular expression that matches it literally (a path in an expected message). */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-e2e-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh temp dir for one test with pass.txt (PASSWORD) and copies of the named files of `source`. */
export function tempDirWith(source: string, names: readonly string[]): string {
  const dir = tempDir();
  passwordFile(dir);
  for (const name of names) copyFileSync(join(source, name), join(dir, name));
  return dir;
}

/** Every entry of a directory, hidden ones included, sorted. */
export function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Writes a file in `dir` and returns its name (relative to `dir`, as the CLI gets it). */
export function writeFile(dir: string, name: string, content: string | Buffer, mode?: number): string {
  writeFileSync(join(dir, name), content);
  if (mode !== undefined) chmodSync(join(dir, name), mode);
  return name;
}

/** A password file holding `password` and a newline. */
export function passwordFile(dir: string, password = PASSWORD, name = 'pass.txt'): string {
  return writeFile(dir, name, `${password}\n`);
}

export function readJson<T = Record<string, unknown>>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Permission bits of a file. */
export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

export function decodeB64url(text: string): Buffer {
  return Buffer.from(text, 'base64url');
}

/** The protected header of a flattened JWE file. */
export function protectedHeader(path: string): Record<string, unknown> {
  const jwe = readJson<{ protected: string }>(path);
  return JSON.parse(decodeB64url(jwe.protected).toString('utf8')) as Record<string, unknown>;
}

export type Jwk = Record<string, unknown> & { kty: string };

/** Decrypts a private key file with panva/jose, not with keymint's own code. */
export async function decryptWithJose(path: string, password: string): Promise<Jwk> {
  const jwe = readJson<FlattenedJWE>(path);
  const { plaintext } = await flattenedDecrypt(jwe, new TextEncoder().encode(password), {
    keyManagementAlgorithms: ['PBES2-HS256+A128KW'],
    contentEncryptionAlgorithms: ['A256GCM'],
    maxPBES2Count: 1_000_000,
  });
  return JSON.parse(Buffer.from(plaintext).toString('utf8')) as Jwk;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A private JWK without its private members. */
export function publicPart(jwk: Jwk): Jwk {
  return Object.fromEntries(Object.entries(jwk).filter(([name]) => !PRIVATE_MEMBERS.includes(name))) as Jwk;
}

export function privateMembersIn(jwk: Jwk): string[] {
  return PRIVATE_MEMBERS.filter((m) => m in jwk);
}

const REQUIRED: Record<string, string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
  oct: ['k', 'kty'],
};

/** RFC 7638 §3 thumbprint computed here, independently of keymint and jose. */
export function rfc7638(jwk: Jwk): string {
  const members = REQUIRED[jwk.kty];
  if (members === undefined) throw new Error(`no thumbprint rule for ${jwk.kty}`);
  const json = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(json).digest('base64url');
}

/** Checks that the public JWK and a private JWK are the same key pair (Node derives the public key). */
export function expectKeyPair(privateJwk: Jwk, publicJwk: Jwk): void {
  const derived = createPublicKey(createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' })).export({
    format: 'jwk',
  });
  for (const [name, value] of Object.entries(derived)) expect(publicJwk[name], `public member ${name}`).toBe(value);
}

/** Bits of an RSA modulus or an oct key. */
export function bitsOf(b64url: string): number {
  const bytes = decodeB64url(b64url);
  if (bytes[0] === 0) throw new Error('leading zero byte');
  return bytes.length * 8 - Math.clz32(bytes[0] ?? 0) + 24;
}

/**
 * The error contract of every failing run: the documented exit code, exactly one line on stderr
 * that starts with "keymint: " and matches each pattern, no stack trace, nothing on stdout.
 */
export function expectError(result: RunResult, code: number, ...patterns: RegExp[]): string {
  expect(result.stderr, 'stderr is one line').toMatch(/^keymint: [^\n]+\n$/);
  expect(result.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
  expect(result.stdout).toBe('');
  expect(result.code, `exit code; stderr: ${result.stderr}`).toBe(code);
  for (const pattern of patterns) expect(result.stderr).toMatch(pattern);
  return result.stderr;
}

/**
 * Runs keymint in `dir` expecting a failure: the error contract of `expectError`, and the
 * directory exactly as it was (no new file, no temp file, no file changed).
 */
export async function expectFailure(
  dir: string,
  args: readonly string[],
  code: number,
  patterns: RegExp[],
  options: Partial<RunOptions> = {},
): Promise<RunResult> {
  const before = snapshot(dir);
  const result = await keymint(args, { cwd: dir, ...options });
  expectError(result, code, ...patterns);
  expect(snapshot(dir), 'the directory is unchanged').toEqual(before);
  return result;
}

/** Names and contents of the files of a directory, recursively. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const rel = path.slice(dir.length + 1);
    out[rel] = entry.isFile()
      ? `${modeOf(path).toString(8)} ${readFileSync(path).toString('base64')}`
      : entry.isDirectory()
        ? 'dir'
        : 'other';
  }
  return out;
}

/** The user the "unreadable file" tests drop to when they run as root (who can read any file). */
export const NOBODY = { uid: 65534, gid: 65534 };
export const IS_ROOT = process.getuid?.() === 0;

/** Makes `dir` belong to nobody, so a run as nobody can write in it. */
export function giveToNobody(path: string): void {
  if (IS_ROOT) chownSync(path, NOBODY.uid, NOBODY.gid);
}

export interface PtyResult {
  /** Everything the terminal showed (stdout and stderr both go to the terminal). */
  output: string;
  status: number;
  /** How many answers were typed. */
  answered: number;
  /** Whether the terminal's echo was off when each answer was typed. */
  echoOff: boolean[];
  timedOut: boolean;
}

/**
 * Runs keymint under a real pseudo-terminal (Python's pty module) and types `answers` at its
 * password and PIN prompts; a prompt with no answer left gets Ctrl-C. See fixtures/pty-driver.py.
 */
export async function keymintInPty(
  args: readonly string[],
  answers: readonly string[],
  options: { cwd: string; timeoutSeconds?: number },
): Promise<PtyResult> {
  const driver = join(FIXTURES, 'pty-driver.py');
  const result = await runProgram(
    PYTHON,
    [driver, JSON.stringify(answers), String(options.timeoutSeconds ?? 60), process.execPath, BIN, ...args],
    {
      cwd: options.cwd,
    },
  );
  if (result.code !== 0) throw new Error(`pty driver failed (${String(result.code)}): ${result.stderr}`);
  return JSON.parse(result.stdout) as PtyResult;
}
