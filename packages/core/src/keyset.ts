import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { link, lstat, open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ErrorCode, KeymintError } from './errors.js';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, readInput, writeFilesAtomically } from './files.js';
import { assertJsonDepth, isPrivateJwk, orderJwk, parseJsonObject, type Jwk, type JwkSet } from './jwk.js';
import { thumbprint } from './thumbprint.js';

function malformedSet(source: string, what: string): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, `${source} is not a valid JWK Set: ${what}`, { hint: 'fix or remove the file' });
}

/**
 * Parses a JWK Set strictly: a JSON object whose "keys" is an array of JWKs, each with a string
 * "kty" and, if it has one, a string "kid". Members other than "keys" are kept as they are.
 * @throws KeymintError ERR_INPUT_INVALID naming `source` and what is wrong
 * @example parseKeySet('{"keys":[]}', 'jwks.json') // { keys: [] }
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 */
export function parseKeySet(text: string, source: string): JwkSet {
  if (text.trim().length === 0) throw malformedSet(source, 'the file is empty');
  assertJsonDepth(text, source);
  let obj: Record<string, unknown>;
  try {
    obj = parseJsonObject(text, source);
  } catch {
    throw malformedSet(source, 'it is not a JSON object');
  }
  if (!Array.isArray(obj.keys)) throw malformedSet(source, typeof obj.kty === 'string' ? 'it is a single JWK, not a set (no "keys" array)' : 'it has no "keys" array');
  for (const [i, key] of (obj.keys as unknown[]).entries()) {
    if (key === null || typeof key !== 'object' || Array.isArray(key)) throw malformedSet(source, `keys[${i}] is not a JSON object`);
    const jwk = key as Record<string, unknown>;
    if (typeof jwk.kty !== 'string') throw malformedSet(source, `keys[${i}] has no "kty"`);
    if (jwk.kid !== undefined && typeof jwk.kid !== 'string') throw malformedSet(source, `keys[${i}] has a "kid" that is not a string`);
  }
  return obj as JwkSet;
}

/** A JWK Set as keymint writes it: JSON indented with two spaces, member order kept. */
export function serializeKeySet(set: JwkSet): string {
  return JSON.stringify(set, null, 2) + '\n';
}

export interface AddToKeySetOptions {
  /** Replace members with the same kid, or with the same key under another kid. */
  force?: boolean;
}

export interface KeySetChange {
  set: JwkSet;
  /** The keys added, as written (kid assigned where it was missing). */
  added: Jwk[];
  /** Members taken out: replaced by `add --force`, or removed. */
  removed: Jwk[];
}

async function sameKeyAs(jwk: Jwk): Promise<(other: Jwk) => Promise<boolean>> {
  let mine: string | undefined;
  try {
    mine = await thumbprint(jwk);
  } catch {
    return async () => false;
  }
  return async (other) => {
    if (other.kty !== jwk.kty) return false;
    try {
      return (await thumbprint(other)) === mine;
    } catch {
      return false;
    }
  };
}

/**
 * Adds keys to a set. A key without a kid gets its RFC 7638 thumbprint (oct keys must have one).
 * A kid already in the set, or the same key under another kid, is refused unless `force`, which
 * replaces the old member.
 * @throws KeymintError ERR_KEY_EXISTS for a duplicate, ERR_PARAM_INVALID for an oct key without kid
 * @example const { set } = await addToKeySet({ keys: [] }, [publicJwk]);
 */
export async function addToKeySet(set: JwkSet, keys: readonly Jwk[], options: AddToKeySetOptions = {}): Promise<KeySetChange> {
  let members = [...set.keys];
  const added: Jwk[] = [];
  const removed: Jwk[] = [];
  for (const key of keys) {
    let jwk = key;
    if (typeof jwk.kid !== 'string' || jwk.kid.length === 0) {
      if (jwk.kty === 'oct') {
        throw new KeymintError(ErrorCode.PARAM_INVALID, 'the oct key has no kid, and keymint does not name a secret after its hash', { hint: 'give one with --kid' });
      }
      jwk = { ...jwk, kid: await thumbprint(jwk) };
    }
    jwk = orderJwk(jwk);
    if (added.some((a) => a.kid === jwk.kid)) throw new KeymintError(ErrorCode.KEY_EXISTS, `two of the keys to add have the kid "${String(jwk.kid)}"`);
    const same = await sameKeyAs(jwk);
    const clashes: Jwk[] = [];
    for (const member of members) if (member.kid === jwk.kid || (await same(member))) clashes.push(member);
    if (clashes.length > 0 && !options.force) {
      const clash = clashes[0] as Jwk;
      const what = clash.kid === jwk.kid ? `a key with kid "${String(jwk.kid)}"` : `the same key, with kid "${String(clash.kid)}"`;
      throw new KeymintError(ErrorCode.KEY_EXISTS, `the set already has ${what}`, { hint: 'use --force to replace it' });
    }
    members = members.filter((m) => !clashes.includes(m));
    removed.push(...clashes);
    members.push(jwk);
    added.push(jwk);
  }
  return { set: { ...set, keys: members }, added, removed };
}

function notFound(kid: string, source: string): KeymintError {
  return new KeymintError(ErrorCode.KEY_NOT_FOUND, `${source} has no key with kid "${kid}"`, { hint: 'see the kids with keymint keyset list' });
}

/**
 * Takes every member with `kid` out of a set.
 * @throws KeymintError ERR_KEY_NOT_FOUND when there is none
 * @example removeFromKeySet(set, 'old-2025').set
 */
export function removeFromKeySet(set: JwkSet, kid: string, source = 'the JWK Set'): KeySetChange {
  const removed = set.keys.filter((k) => k.kid === kid);
  if (removed.length === 0) throw notFound(kid, source);
  return { set: { ...set, keys: set.keys.filter((k) => k.kid !== kid) }, added: [], removed };
}

/**
 * The members of a set with `kid` (more than one only in a set that breaks RFC 7517 §4.5's advice).
 * @throws KeymintError ERR_KEY_NOT_FOUND when there is none
 * @example findInKeySet(set, 'client-1')[0]
 */
export function findInKeySet(set: JwkSet, kid: string, source = 'the JWK Set'): Jwk[] {
  const found = set.keys.filter((k) => k.kid === kid);
  if (found.length === 0) throw notFound(kid, source);
  return found;
}

export interface LockOptions {
  /** How long to wait for another process's lock, in ms; default 10000. */
  timeoutMs?: number;
  /** A lock older than this, in ms, is taken as left behind by a crash; default 60000. */
  staleMs?: number;
}

interface LockHolder {
  raw: string;
  pid: number | undefined;
  host: string | undefined;
  since: string | undefined;
  ageMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates `path` holding `content`, complete from the first moment, or returns false if it exists. */
async function createComplete(path: string, content: string): Promise<boolean> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
  try {
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
  try {
    // link() fails if the name exists: the same atomic test-and-set as O_EXCL, with the content in place.
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  let raw: string;
  let mtimeMs: number;
  try {
    [raw, mtimeMs] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtimeMs)]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let info: Record<string, unknown> = {};
  try {
    info = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    // not one of ours, or damaged: judged by age alone
  }
  return {
    raw,
    pid: typeof info.pid === 'number' ? info.pid : undefined,
    host: typeof info.host === 'string' ? info.host : undefined,
    since: typeof info.since === 'string' ? info.since : undefined,
    ageMs: Date.now() - mtimeMs,
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(holder: LockHolder, staleMs: number): boolean {
  if (holder.ageMs > staleMs) return true;
  if (holder.pid === undefined) return holder.ageMs > 2000;
  return holder.host === hostname() && !processAlive(holder.pid);
}

/**
 * Removes a lock judged stale, unless it changed meanwhile. Breakers take turns through a second,
 * short-lived lock, and re-read the lock under it, so a fresh lock someone just took is never removed.
 */
async function breakStaleLock(lockPath: string, holder: LockHolder): Promise<void> {
  const guard = `${lockPath}.break`;
  if (!(await createComplete(guard, `${process.pid}\n`))) {
    const age = await lstat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > 5000) await unlink(guard).catch(() => undefined);
    return;
  }
  try {
    const current = await readHolder(lockPath);
    if (current !== undefined && current.raw === holder.raw) await unlink(lockPath).catch(() => undefined);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/**
 * Runs `action` while holding `<path>.lock`, so that processes changing the same file take turns.
 * The lock file is created atomically with its holder's pid, host and time; a lock whose process is
 * gone (same host) or which is older than `staleMs` is broken. Waits with backoff up to `timeoutMs`.
 * @throws KeymintError ERR_IO when the lock cannot be had in time or the directory is not writable
 * @example await withFileLock('jwks.json', async () => { ... });
 */
export async function withFileLock<T>(path: string, action: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const token = randomBytes(8).toString('hex');
  let content = '';
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const staleMs = options.staleMs ?? 60_000;
  let delay = 5;
  for (;;) {
    let created: boolean;
    content = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), token }) + '\n';
    try {
      created = await createComplete(lockPath, content);
    } catch (cause) {
      throw new KeymintError(ErrorCode.IO, `${path}: cannot create the lock file ${lockPath} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
    }
    if (created) break;
    const holder = await readHolder(lockPath);
    if (holder === undefined) continue;
    if (isStale(holder, staleMs)) {
      await breakStaleLock(lockPath, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder.pid === undefined ? 'another process' : `process ${holder.pid}${holder.host === undefined || holder.host === hostname() ? '' : ` on ${holder.host}`}`;
      throw new KeymintError(ErrorCode.IO, `${path} is locked by ${who}${holder.since === undefined ? '' : ` since ${holder.since}`}: another keymint is changing it`, {
        hint: `try again; if no keymint is running, remove ${lockPath}`,
      });
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 200);
  }
  try {
    return await action();
  } finally {
    const current = await readHolder(lockPath).catch(() => undefined);
    if (current?.raw === content) await unlink(lockPath).catch(() => undefined);
  }
}

export interface UpdateKeySetOptions {
  /** Start from an empty set when the file does not exist (else that is an error). */
  create?: boolean;
  lock?: LockOptions;
}

/**
 * Changes a JWK Set file under its lock: reads and parses it (or starts from `{"keys":[]}`),
 * applies `change`, and writes the result atomically. The file keeps its mode, except that a set
 * holding private keys is written 0600; a new public set is 0644.
 * @throws KeymintError ERR_INPUT_INVALID for a malformed set, ERR_IO, and what `change` throws;
 *   on any error the file is left as it was
 * @example await updateKeySetFile('jwks.json', (set) => addToKeySet(set, [jwk]), { create: true });
 */
export async function updateKeySetFile(path: string, change: (set: JwkSet) => KeySetChange | Promise<KeySetChange>, options: UpdateKeySetOptions = {}): Promise<KeySetChange> {
  return withFileLock(
    path,
    async () => {
      let existingMode: number | undefined;
      try {
        const info = await stat(path);
        existingMode = info.isFile() ? info.mode & 0o777 : undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !options.create) {
          // readInput gives the one-line message for a missing or unreadable file
          await readInput(path, 'JWK Set');
        }
      }
      const set = existingMode === undefined && options.create ? { keys: [] } : parseKeySet(await readInput(path, 'JWK Set'), path);
      const result = await change(set);
      const mode = result.set.keys.some(isPrivateJwk) ? PRIVATE_FILE_MODE : (existingMode ?? PUBLIC_FILE_MODE);
      await writeFilesAtomically([{ path, content: serializeKeySet(result.set), mode }], { force: true });
      return result;
    },
    options.lock,
  );
}
