import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOk, lockFor, newKeyPair } from '@keymint/test-kit';
import {
  PASSWORD,
  expectError,
  keymint,
  listDir,
  passwordFile,
  readJson,
  tempDir,
  type Jwk,
  type RunResult,
} from '../helpers.js';
import { jwkFile } from '../toolbox/helpers.js';
import { expectValidPair } from './support.js';
import { STOPPED_MS, continueAtEnd, lockHolder, stopWhen, tempWriters } from './writers.js';

/**
 * keymint writers stopped (SIGSTOP) for longer than the 60 s after which keymint used to take a lock
 * over, as a paused process, a slow NFS server or a suspended laptop stop them; and locks keymint
 * cannot judge.
 */

/** How long keymint waits for a lock before it gives up (the CLI's default). */
const LOCK_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A public EC JWK from Node. */
function publicJwk(kid: string): Jwk {
  return { ...(newKeyPair('ec', { namedCurve: 'P-256' }).publicJwk as Jwk), kid };
}

interface Writer {
  name: string;
  /** The kid it adds, or removes. */
  kid: string;
  kind: 'add' | 'remove';
  run: Promise<RunResult>;
}

/**
 * Writer A is caught holding the set's lock and stopped there for 66 s, while B1..B3 (started at
 * once) and C1..C4 (started after the old takeover time) add and remove keys. Every command that
 * reports success has its change in the set; no failed command's change is there.
 */
async function stoppedHoldingTheLock(): Promise<void> {
  const dir = tempDir();
  // A large set, so that a writer holds the lock long enough (reading, checking each member) to be caught.
  const members = Array.from({ length: 2500 }, (_, i) => publicJwk(`m${i}`));
  writeFileSync(join(dir, 'jwks.json'), `${JSON.stringify({ keys: members }, null, 2)}\n`);
  const add = (name: string): Writer => {
    jwkFile(dir, `${name}.json`, publicJwk(name));
    return { name, kid: name, kind: 'add', run: keymint(['keyset', 'add', 'jwks.json', `${name}.json`], { cwd: dir }) };
  };
  const remove = (name: string, kid: string): Writer => ({
    name,
    kid,
    kind: 'remove',
    run: keymint(['keyset', 'remove', '--kid', kid, 'jwks.json'], { cwd: dir }),
  });
  const lock = join(dir, 'jwks.json.lock');

  // Writer A is caught holding the lock and stopped there; a try that misses lets A finish and starts another.
  const writers: Writer[] = [];
  let stopped: number | undefined;
  let a: Writer | undefined;
  for (let attempt = 0; stopped === undefined && attempt < 20; attempt++) {
    a = add(`a${attempt}`);
    writers.push(a);
    stopped = await stopWhen(() => lockHolder(lock), `${a.name}.json`);
    if (stopped === undefined) await a.run;
  }
  expect(stopped, 'writer A was caught holding the lock').toBeDefined();
  continueAtEnd(stopped as number);
  const stoppedAt = Date.now();

  // B1..B3 start at once: they wait for A's lock, in vain.
  const early = [add('b1'), add('b2'), remove('b3', 'm1')];
  writers.push(...early);
  // C1..C4 start after the old takeover time and while A is still stopped.
  await sleep(STOPPED_MS - 4000 - (Date.now() - stoppedAt));
  expect(lockHolder(lock), 'A still holds the lock').toBe(stopped);
  const late = [add('c1'), add('c2'), add('c3'), remove('c4', 'm2')];
  writers.push(...late);
  await sleep(STOPPED_MS - (Date.now() - stoppedAt));
  process.kill(stopped as number, 'SIGCONT');

  const results = await Promise.all(writers.map((w) => w.run));
  const final = readJson<{ keys: Jwk[] }>(join(dir, 'jwks.json')).keys.map((k) => k.kid);
  for (const [i, writer] of writers.entries()) {
    const result = results[i] as RunResult;
    const landed = writer.kind === 'add' ? final.includes(writer.kid) : !final.includes(writer.kid);
    if (result.code === 0) expect(landed, `${writer.name} reported success: its change is in the set`).toBe(true);
    else expect(landed, `${writer.name} failed (${result.stderr.trim()}): its change is not in the set`).toBe(false);
  }
  // The waiters that gave up before A went on failed cleanly, naming A; those after A went on all got their turn.
  for (const [i, writer] of writers.entries()) {
    if (!early.includes(writer)) continue;
    expectError(
      results[i] as RunResult,
      8,
      new RegExp(`jwks.json is locked by process ${stopped} since`),
      /if no keymint is running, remove jwks.json.lock/,
    );
  }
  for (const [i, writer] of writers.entries())
    if (late.includes(writer) || writer === a) expectOk(results[i] as RunResult);
  expect(
    final.filter((kid) => String(kid).startsWith('m')),
    'the members no one removed are all there',
  ).toHaveLength(2500 - 1);
  expect(listDir(dir), 'no lock or temp file left').toEqual(
    ['jwks.json', ...writers.filter((w) => w.kind === 'add').map((w) => `${w.name}.json`)].sort(),
  );
}

/**
 * Writer A (create --force) is caught between writing its temp files and renaming them, and stopped
 * there for 66 s; then B writes the same names, and removes what dead writers left: not A's temps.
 * A, continued, puts its pair in place.
 */
async function stoppedWithItsTempFiles(): Promise<void> {
  const dir = tempDir();
  passwordFile(dir);
  // Each writer has its own PBES2 count: it marks the process, and tells whose pair is on disk.
  const create = (count: number) =>
    keymint(['create', '--force', '--password-file', 'pass.txt', '--pbes2-count', String(count), 'k.pub', 'k.json'], {
      cwd: dir,
    });
  expectOk(await create(9000));

  let stopped: number | undefined;
  let a: Promise<RunResult> | undefined;
  let count = 0;
  const writing = () => [...tempWriters(dir, 'k.pub').keys(), ...tempWriters(dir, 'k.json').keys()][0];
  for (let attempt = 0; stopped === undefined && attempt < 40; attempt++) {
    count = 1000 + attempt;
    a = create(count);
    stopped = await stopWhen(writing, String(count));
    if (stopped === undefined) expectOk(await a);
  }
  expect(stopped, 'writer A was caught with its temp files written').toBeDefined();
  continueAtEnd(stopped as number);
  const temps = [
    ...(tempWriters(dir, 'k.pub').get(stopped as number) ?? []),
    ...(tempWriters(dir, 'k.json').get(stopped as number) ?? []),
  ];
  expect(temps.length).toBeGreaterThan(0);

  // Over a minute later, B writes the same names, and cleans up what dead writers left: not A's temps.
  await sleep(STOPPED_MS);
  expectOk(await create(5000));
  for (const temp of temps) expect(existsSync(join(dir, temp)), `${temp} of the stopped writer survives`).toBe(true);

  process.kill(stopped as number, 'SIGCONT');
  expectOk(await (a as Promise<RunResult>));
  // A renamed last: its pair is the one on disk, whole.
  await expectValidPair(dir, 'k.pub', 'k.json', PASSWORD, { kty: 'EC', p2c: count });
  expect(listDir(dir), 'no temp file left').toEqual(['k.json', 'k.pub', 'pass.txt']);
}

describe('writers stopped for longer than a minute', () => {
  it(
    'writers stopped for 66 s, one holding the lock, one with its temp files written: no lock is taken over, no temp file removed, and every change reported done is there',
    async () => {
      // Side by side: each scenario waits its 66 s at the same time as the other.
      await Promise.all([stoppedHoldingTheLock(), stoppedWithItsTempFiles()]);
    },
    STOPPED_MS + 90_000,
  );

  it('locks keymint cannot judge are never taken over, however old: exit 8 after the lock timeout, naming the holder, with the hint', async () => {
    const cases = [
      {
        // Another host: its pid means nothing here.
        lock: JSON.stringify({
          pid: 4_000_000,
          host: 'elsewhere.example',
          since: '2001-01-01T00:00:00.000Z',
          token: '0123456789abcdef',
        }),
        message:
          /^keymint: jwks\.json is locked by process 4000000 on elsewhere\.example since 2001-01-01T00:00:00\.000Z, which keymint cannot check from here; if that process is not running, remove jwks\.json\.lock by hand\n$/,
      },
      {
        lock: 'locked by a deploy script\n',
        message:
          /^keymint: jwks\.json is locked by another program: jwks\.json\.lock is not a keymint lock, and keymint never removes it; if no program is changing jwks\.json, remove jwks\.json\.lock by hand\n$/,
      },
      {
        // This host's name, another boot: a lock left before a restart, or another machine of the same name.
        lock: lockFor(process.pid, { boot: '00000000-0000-4000-8000-000000000000' }),
        message:
          /locked by process \d+ on .* \(before a restart, or another machine of that name\).*; if that process is not running, remove jwks\.json\.lock by hand/,
      },
    ];
    const runs = cases.map(async ({ lock, message }) => {
      const dir = tempDir();
      jwkFile(dir, 'k.json', publicJwk('k'));
      writeFileSync(join(dir, 'jwks.json.lock'), lock);
      utimesSync(join(dir, 'jwks.json.lock'), new Date('2001-01-01'), new Date('2001-01-01'));
      const began = Date.now();
      expectError(await keymint(['keyset', 'add', 'jwks.json', 'k.json'], { cwd: dir }), 8, message);
      expect(Date.now() - began, 'it waited for the lock first').toBeGreaterThanOrEqual(LOCK_TIMEOUT_MS);
      expect(readFileSync(join(dir, 'jwks.json.lock'), 'utf8')).toBe(lock);
      expect(listDir(dir)).toEqual(['jwks.json.lock', 'k.json']);
    });
    await Promise.all(runs);
  });
});
