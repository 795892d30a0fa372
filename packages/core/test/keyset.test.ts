import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeymintError } from '../src/errors.js';
import type { Jwk, JwkSet } from '../src/jwk.js';
import { addToKeySet, findInKeySet, parseKeySet, removeFromKeySet, serializeKeySet, updateKeySetFile, withFileLock } from '../src/keyset.js';
import { thumbprint } from '../src/thumbprint.js';
import { thrown } from './support/thrown.js';

const ec = (kid?: string): Jwk => {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'jwk' }) as Jwk;
  return kid === undefined ? jwk : { ...jwk, kid };
};

const root = mkdtempSync(join(tmpdir(), 'keymint-keyset-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dir(): string {
  const d = join(root, String(n++));
  mkdirSync(d);
  return d;
}

async function rejection(promise: Promise<unknown>, code: string, message?: RegExp): Promise<KeymintError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KeymintError);
  expect((error as KeymintError).code).toBe(code);
  if (message) expect((error as KeymintError).message).toMatch(message);
  return error as KeymintError;
}

describe('parseKeySet', () => {
  it('reads a set and keeps members other than "keys"', () => {
    const set = parseKeySet('{"issuer":"https://as","keys":[{"kty":"EC","kid":"a"}],"x":1}', 'jwks.json');
    expect(set).toEqual({ issuer: 'https://as', keys: [{ kty: 'EC', kid: 'a' }], x: 1 });
  });

  it.each([
    ['', /the file is empty/],
    ['{"keys":', /not a JSON object/],
    ['[]', /not a JSON object/],
    ['{"kty":"EC"}', /a single JWK, not a set/],
    ['{"keys":{}}', /no "keys" array/],
    ['{"keys":[1]}', /keys\[0\] is not a JSON object/],
    ['{"keys":[{"kid":"a"}]}', /keys\[0\] has no "kty"/],
    ['{"keys":[{"kty":"EC","kid":5}]}', /"kid" that is not a string/],
  ])('refuses %j with ERR_INPUT_INVALID naming the file', (text, message) => {
    const error = thrown(() => parseKeySet(text, 'jwks.json'));
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toMatch(/^jwks.json is not a valid JWK Set: /);
    expect(error.message).toMatch(message);
  });

  it('serializes with two-space indentation and a final newline', () => {
    expect(serializeKeySet({ keys: [] })).toBe('{\n  "keys": []\n}\n');
  });
});

describe('addToKeySet, removeFromKeySet, findInKeySet', () => {
  it('appends keys, keeping the other members', async () => {
    const a = ec('a');
    const { set, added, removed } = await addToKeySet({ issuer: 'x', keys: [] }, [a]);
    expect(set).toEqual({ issuer: 'x', keys: [added[0]] });
    expect(added[0]).toMatchObject(a);
    expect(removed).toEqual([]);
  });

  it('gives a key without kid its RFC 7638 thumbprint', async () => {
    const key = ec();
    const { added } = await addToKeySet({ keys: [] }, [key]);
    expect(added[0]?.kid).toBe(await thumbprint(key));
  });

  it('refuses an oct key without kid', async () => {
    const error = await rejection(addToKeySet({ keys: [] }, [{ kty: 'oct', k: 'AAAA' }]), 'ERR_PARAM_INVALID', /oct key has no kid/);
    expect(error.hint).toMatch(/--kid/);
  });

  it('refuses a duplicate kid, and the same key under another kid, unless force', async () => {
    const a = ec('a');
    const start: JwkSet = { keys: [a, ec('b')] };
    await rejection(addToKeySet(start, [ec('a')]), 'ERR_KEY_EXISTS', /kid "a"/);
    await rejection(addToKeySet(start, [{ ...a, kid: 'again' }]), 'ERR_KEY_EXISTS', /the same key, with kid "a"/);
    const replacement = ec('a');
    const forced = await addToKeySet(start, [replacement], { force: true });
    expect(forced.set.keys.map((k) => k.kid)).toEqual(['b', 'a']);
    expect(forced.set.keys[1]).toMatchObject(replacement);
    expect(forced.removed).toEqual([a]);
  });

  it('refuses two new keys with one kid', async () => {
    await rejection(addToKeySet({ keys: [] }, [ec('z'), ec('z')]), 'ERR_KEY_EXISTS');
  });

  it('removes and finds by kid; an unknown kid is ERR_KEY_NOT_FOUND', () => {
    const set: JwkSet = { keys: [ec('a'), ec('b')], other: true };
    expect(removeFromKeySet(set, 'a').set).toEqual({ keys: [set.keys[1]], other: true });
    expect(findInKeySet(set, 'b')).toEqual([set.keys[1]]);
    expect(thrown(() => removeFromKeySet(set, 'nope', 'jwks.json')).code).toBe('ERR_KEY_NOT_FOUND');
    expect(thrown(() => findInKeySet(set, 'nope', 'jwks.json')).message).toMatch(/jwks.json has no key with kid "nope"/);
  });
});

describe('updateKeySetFile', () => {
  it('creates a public set 0644, keeps the mode of an existing one, and writes a set with private keys 0600', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    await updateKeySetFile(path, (set) => addToKeySet(set, [ec('a')]), { create: true });
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(JSON.parse(readFileSync(path, 'utf8')).keys).toHaveLength(1);
    const priv = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' }) as Jwk;
    await updateKeySetFile(path, (set) => addToKeySet(set, [{ ...priv, kid: 'p' }]));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });

  it('keeps members other than "keys", in their order', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, '{"issuer":"https://as","keys":[],"z":[1,2]}');
    await updateKeySetFile(path, (set) => addToKeySet(set, [ec('a')]));
    const text = readFileSync(path, 'utf8');
    expect(Object.keys(JSON.parse(text))).toEqual(['issuer', 'keys', 'z']);
    expect(text).toMatch(/^\{\n {2}"issuer": "https:\/\/as",\n/);
  });

  it('leaves a malformed set, and its directory, exactly as they were', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, '{"keys": [');
    await rejection(updateKeySetFile(path, (set) => addToKeySet(set, [ec('a')])), 'ERR_INPUT_INVALID', /not a valid JWK Set/);
    expect(readFileSync(path, 'utf8')).toBe('{"keys": [');
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });

  it('without create, a missing file is ERR_IO and nothing is written', async () => {
    const d = dir();
    await rejection(updateKeySetFile(join(d, 'none.json'), (set) => removeFromKeySet(set, 'a')), 'ERR_IO', /no such file/);
    expect(readdirSync(d)).toEqual([]);
  });

  it('an error in the change leaves the file as it was and removes the lock', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, '{"keys":[]}\n');
    await rejection(updateKeySetFile(path, (set) => removeFromKeySet(set, 'a')), 'ERR_KEY_NOT_FOUND');
    expect(readdirSync(d)).toEqual(['jwks.json']);
    expect(readFileSync(path, 'utf8')).toBe('{"keys":[]}\n');
  });

  it('serializes concurrent changes in one process: 25 adds, 25 keys', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    await Promise.all(Array.from({ length: 25 }, (_, i) => updateKeySetFile(path, (set) => addToKeySet(set, [ec(`k${i}`)]), { create: true })));
    const kids = (JSON.parse(readFileSync(path, 'utf8')) as JwkSet).keys.map((k) => k.kid).sort();
    expect(kids).toEqual(Array.from({ length: 25 }, (_, i) => `k${i}`).sort());
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });
});

/** The pid of a process that has exited (so no process has it, unless the system reused it). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

describe('withFileLock', () => {
  it('waits for a live holder, and fails after the timeout naming it, leaving its lock alone', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    const lock = JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-01-01T00:00:00Z', token: 't' });
    writeFileSync(`${path}.lock`, lock);
    let ran = false;
    const error = await rejection(withFileLock(path, async () => void (ran = true), { timeoutMs: 300 }), 'ERR_IO', new RegExp(`locked by process ${process.pid} since 2026-01-01T00:00:00Z`));
    expect(error.hint).toMatch(/remove .*jwks.json.lock/);
    expect(ran).toBe(false);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(lock);
    expect(readdirSync(d)).toEqual(['jwks.json.lock']);
  });

  it('gets the lock once the holder lets go', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: process.pid, host: hostname() }));
    setTimeout(() => rmSync(`${path}.lock`), 200);
    expect(await withFileLock(path, async () => 'done', { timeoutMs: 5000 })).toBe('done');
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('breaks a lock whose process is gone', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: await deadPid(), host: hostname() }));
    expect(await withFileLock(path, async () => 'done', { timeoutMs: 300 })).toBe('done');
    expect(readdirSync(d)).toEqual([]);
  });

  it('breaks a lock older than staleMs even if its pid is alive (a hung or reused pid)', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: process.pid, host: hostname() }));
    const old = new Date(Date.now() - 120_000);
    utimesSync(`${path}.lock`, old, old);
    expect(await withFileLock(path, async () => 'done', { timeoutMs: 300 })).toBe('done');
  });

  it('does not judge the pid of a lock taken on another host (only its age)', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: await deadPid(), host: 'elsewhere.example' }));
    await rejection(withFileLock(path, async () => 'done', { timeoutMs: 200 }), 'ERR_IO', /on elsewhere.example/);
  });

  it('breaks an unreadable lock after a short grace period only', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(`${path}.lock`, 'garbage');
    await rejection(withFileLock(path, async () => 'done', { timeoutMs: 200 }), 'ERR_IO', /locked by another process/);
    const old = new Date(Date.now() - 10_000);
    utimesSync(`${path}.lock`, old, old);
    expect(await withFileLock(path, async () => 'done', { timeoutMs: 200 })).toBe('done');
  });

  it('releases the lock when the action throws', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    await expect(withFileLock(path, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(readdirSync(d)).toEqual([]);
  });

  it('holds others off while it runs: no two actions overlap', async () => {
    const path = join(dir(), 'jwks.json');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withFileLock(path, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 5));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
