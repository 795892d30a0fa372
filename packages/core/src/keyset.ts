import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fsp, readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ErrorCode, KeymintError, message, param } from './errors.js';
import {
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  readFileToReplace,
  removeStaleTemps,
  resolveFileToReplace,
  tempPathFor,
  unchangedSince,
  writeFilesAtomically,
} from './files.js';
import { bootId, pidNamespace, processExists, processStartTime } from './host.js';
import { assertJsonDepth, isPrivateJwk, orderJwk, parseJsonObject, type Jwk, type JwkSet } from './jwk.js';
import { thumbprint } from './thumbprint.js';

function malformedSet(source: string, what: string): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, `${source} is not a valid JWK Set: ${what}`, {
    hint: 'fix or remove the file',
  });
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
  if (!Array.isArray(obj.keys))
    throw malformedSet(
      source,
      typeof obj.kty === 'string' ? 'it is a single JWK, not a set (no "keys" array)' : 'it has no "keys" array',
    );
  for (const [i, key] of (obj.keys as unknown[]).entries()) {
    if (key === null || typeof key !== 'object' || Array.isArray(key))
      throw malformedSet(source, `keys[${i}] is not a JSON object`);
    const jwk = key as Record<string, unknown>;
    if (typeof jwk.kty !== 'string') throw malformedSet(source, `keys[${i}] has no "kty"`);
    if (jwk.kid !== undefined && typeof jwk.kid !== 'string')
      throw malformedSet(source, `keys[${i}] has a "kid" that is not a string`);
  }
  return obj as JwkSet;
}

/** A JWK Set as keymint writes it: JSON indented with two spaces, member order kept. */
export function serializeKeySet(set: JwkSet): string {
  return `${JSON.stringify(set, null, 2)}\n`;
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
export async function addToKeySet(
  set: JwkSet,
  keys: readonly Jwk[],
  options: AddToKeySetOptions = {},
): Promise<KeySetChange> {
  let members = [...set.keys];
  const added: Jwk[] = [];
  const removed: Jwk[] = [];
  for (const key of keys) {
    let jwk = key;
    if (typeof jwk.kid !== 'string' || jwk.kid.length === 0) {
      if (jwk.kty === 'oct') {
        throw new KeymintError(
          ErrorCode.PARAM_INVALID,
          'the oct key has no kid, and keymint does not name a secret after its hash',
          { hint: message`give one with ${param('kid')}` },
        );
      }
      jwk = { ...jwk, kid: await thumbprint(jwk) };
    }
    jwk = orderJwk(jwk);
    if (added.some((a) => a.kid === jwk.kid))
      throw new KeymintError(ErrorCode.KEY_EXISTS, `two of the keys to add have the kid "${String(jwk.kid)}"`);
    const same = await sameKeyAs(jwk);
    const clashes: Jwk[] = [];
    for (const member of members) if (member.kid === jwk.kid || (await same(member))) clashes.push(member);
    if (clashes.length > 0 && !options.force) {
      const clash = clashes[0] as Jwk;
      const what =
        clash.kid === jwk.kid ? `a key with kid "${String(jwk.kid)}"` : `the same key, with kid "${String(clash.kid)}"`;
      throw new KeymintError(ErrorCode.KEY_EXISTS, `the set already has ${what}`, {
        hint: message`use ${param('force')} to replace it`,
      });
    }
    members = members.filter((m) => !clashes.includes(m));
    removed.push(...clashes);
    members.push(jwk);
    added.push(jwk);
  }
  return { set: { ...set, keys: members }, added, removed };
}

function notFound(kid: string, source: string): KeymintError {
  return new KeymintError(ErrorCode.KEY_NOT_FOUND, `${source} has no key with kid "${kid}"`, {
    hint: 'see the kids with keymint keyset list',
  });
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
}

/** A lock this process holds, as `withFileLock` hands it to its action. */
export interface HeldLock {
  /** The lock file. */
  readonly path: string;
  /**
   * Whether the lock file still holds this lock (it may have been removed by hand, and taken by
   * another process since). Synchronous, to be checked right before the change it guards.
   */
  held(): boolean;
}

const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/** What a lock file says of its holder; every field but `raw` and `ino` may be missing. */
interface LockHolder {
  raw: string;
  ino: bigint;
  pid: number | undefined;
  host: string | undefined;
  boot: string | undefined;
  pidns: string | undefined;
  start: string | undefined;
  since: string | undefined;
  token: string | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/** Creates `path` holding `content`, complete from the first moment, or returns false if it exists. */
async function createComplete(path: string, content: string): Promise<boolean> {
  const temp = tempPathFor(path);
  const handle = await fsp.open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
  try {
    try {
      await handle.writeFile(content, 'utf8');
    } finally {
      await handle.close();
    }
    // link() fails if the name exists: the same atomic test-and-set as O_EXCL, with the content in place.
    await fsp.link(temp, path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw error;
  } finally {
    // Also when the write failed (a full disk): no temp is left behind.
    await fsp.unlink(temp).catch(() => undefined);
  }
}

const text = (info: Record<string, unknown>, name: string) => (typeof info[name] === 'string' ? info[name] : undefined);
const number = (info: Record<string, unknown>, name: string) =>
  typeof info[name] === 'number' ? info[name] : undefined;

/** Reads a lock file: its content and inode from one open file. Undefined when there is none. */
async function readHolder(path: string): Promise<LockHolder | undefined> {
  let handle: FileHandle;
  try {
    handle = await fsp.open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  let raw: string;
  let ino: bigint;
  try {
    ino = (await handle.stat({ bigint: true })).ino;
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(4096) });
    raw = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  let info: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      info = parsed as Record<string, unknown>;
    }
  } catch {
    // not one of ours: never judged, never broken
  }
  return {
    raw,
    ino,
    pid: number(info, 'pid'),
    host: text(info, 'host'),
    boot: text(info, 'boot'),
    pidns: text(info, 'pidns'),
    start: text(info, 'start'),
    since: text(info, 'since'),
    token: text(info, 'token'),
  };
}

type Verdict = { kind: 'gone' } | { kind: 'alive' } | { kind: 'unknown'; where: string };

/**
 * Whether a lock's holder is provably gone. No clock is consulted: a holder may be stopped, or on a
 * slow disk, for any time and then go on. Only a holder on this host (same name, same boot, same PID
 * namespace) can be judged, by its pid and, where the lock recorded it, its start time.
 */
function judge(holder: LockHolder): Verdict {
  const { pid, host } = holder;
  // keymint writes a positive integer pid and a host: anything else is not its lock.
  if (pid === undefined || !Number.isSafeInteger(pid) || pid <= 0 || host === undefined) {
    return { kind: 'unknown', where: '' };
  }
  if (host !== hostname()) return { kind: 'unknown', where: ` on ${host}` };
  const [boot, pidns] = [bootId(), pidNamespace()];
  if (holder.boot !== undefined && boot !== undefined && holder.boot !== boot) {
    // A lock of an earlier boot is left over, unless another machine has the same name: that is
    // something keymint cannot tell apart, so it leaves the decision to a person.
    return { kind: 'unknown', where: ` on ${host} (before a restart, or another machine of that name)` };
  }
  if (holder.pidns !== undefined && pidns !== undefined && holder.pidns !== pidns) {
    return { kind: 'unknown', where: ` on ${host} (another PID namespace: a container)` };
  }
  if (!processExists(pid)) return { kind: 'gone' };
  // The same pid, started at another time: the holder is gone and its pid was given to another process.
  if (holder.start !== undefined) {
    const start = processStartTime(pid);
    if (start !== undefined && start !== holder.start) return { kind: 'gone' };
  }
  return { kind: 'alive' };
}

/**
 * Removes the lock at `lockPath` if it is `expected` (same content and inode), atomically with
 * respect to other keymints: there is no compare-and-delete in POSIX, so the lock is first moved to
 * a name of our own (rename is atomic: of several movers, exactly one gets it), then looked at.
 *
 * - It was `expected`: it is ours alone to delete, and nobody can bring it back.
 * - It was not (a new holder took the name after `expected` was read): it is put back with link(),
 *   which fails if the name is taken again. If link() fails, that new holder has lost its lock; it
 *   finds out when it checks `held()` before its change (its token is not in the lock), and retries.
 *   Safety never depends on this branch: it only keeps a live holder's lock in place when it can.
 *   (Had that holder let go in between, the lock put back is a finished holder's: others wait for
 *   it, and take it over once that process has exited. Slower, never unsafe.)
 *
 * While the lock is moved aside, the name is free and another process may take it: that is correct
 * whenever the lock moved was `expected`, and is detected by `held()` otherwise. The aside name is a
 * temp name of this process (see tempPathFor), so if this process dies in between, the next holder's
 * removeStaleTemps(lockPath) removes the aside file.
 * @returns true when the name is free of `expected` (removed now, or gone already)
 */
async function removeLockIf(lockPath: string, expected: { raw: string; ino: bigint }): Promise<boolean> {
  const aside = tempPathFor(lockPath);
  try {
    await fsp.rename(lockPath, aside);
  } catch (error) {
    return errnoOf(error) === 'ENOENT';
  }
  const moved = await readHolder(aside).catch(() => undefined);
  if (moved !== undefined && moved.raw === expected.raw && moved.ino === expected.ino) {
    await fsp.unlink(aside).catch(() => undefined);
    return true;
  }
  await fsp.link(aside, lockPath).catch(() => undefined);
  await fsp.unlink(aside).catch(() => undefined);
  return false;
}

function lockedError(path: string, lockPath: string, holder: LockHolder, verdict: Verdict): KeymintError {
  const since = holder.since === undefined ? '' : ` since ${holder.since}`;
  if (verdict.kind === 'alive' || verdict.kind === 'gone') {
    const message = `${path} is locked by process ${String(holder.pid)}${since}: another keymint is changing it`;
    return new KeymintError(ErrorCode.IO, message, { hint: `try again; if no keymint is running, remove ${lockPath}` });
  }
  if (verdict.where === '') {
    const message = `${path} is locked by another program: ${lockPath} is not a keymint lock, and keymint never removes it`;
    return new KeymintError(ErrorCode.IO, message, {
      hint: `if no program is changing ${path}, remove ${lockPath} by hand`,
    });
  }
  const message = `${path} is locked by process ${String(holder.pid)}${verdict.where}${since}, which keymint cannot check from here`;
  return new KeymintError(ErrorCode.IO, message, {
    hint: `if that process is not running, remove ${lockPath} by hand`,
  });
}

/**
 * Runs `action` while holding `<path>.lock`, so that processes changing the same file take turns.
 * The lock file is created atomically with its holder's pid, host, boot, PID namespace, start time
 * and a random token. A lock is broken only when its holder is provably gone: on this host, its pid
 * no longer exists or belongs to a process that started at another time. A lock of another host,
 * or one that is not keymint's, is never broken: after `timeoutMs` the call fails, naming the
 * holder. No age makes a lock stale: a holder stopped for an hour still holds it.
 * @throws KeymintError ERR_IO when the lock cannot be had in time or the directory is not writable
 * @example await withFileLock('jwks.json', async (lock) => { ...; if (!lock.held()) retry(); });
 */
export async function withFileLock<T>(
  path: string,
  action: (lock: HeldLock) => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const lockPath = `${path}.lock`;
  const token = randomBytes(8).toString('hex');
  const content = `${JSON.stringify({
    pid: process.pid,
    host: hostname(),
    boot: bootId(),
    pidns: pidNamespace(),
    start: processStartTime(process.pid),
    since: new Date().toISOString(),
    token,
  })}\n`;
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  let delay = 5;
  for (;;) {
    const failed = (what: string, cause: unknown) =>
      new KeymintError(
        ErrorCode.IO,
        `${path}: cannot ${what} the lock file ${lockPath} (${errnoOf(cause) ?? 'error'})`,
        { cause },
      );
    try {
      if (await createComplete(lockPath, content)) break;
    } catch (cause) {
      throw failed('create', cause);
    }
    let holder: LockHolder | undefined;
    try {
      holder = await readHolder(lockPath);
    } catch (cause) {
      throw failed('read', cause);
    }
    if (holder === undefined) continue;
    const verdict = judge(holder);
    if (verdict.kind === 'gone' && (await removeLockIf(lockPath, holder))) continue;
    if (Date.now() >= deadline) throw lockedError(path, lockPath, holder, verdict);
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 200);
  }
  const held = () => {
    try {
      return readFileSync(lockPath, 'utf8') === content;
    } catch {
      return false;
    }
  };
  try {
    // Lock temps and moved-aside locks of keymints that died meanwhile.
    await removeStaleTemps(lockPath);
    return await action({ path: lockPath, held });
  } finally {
    const current = await readHolder(lockPath).catch(() => undefined);
    if (current?.raw === content) await removeLockIf(lockPath, current);
  }
}

export interface UpdateKeySetOptions {
  /** Start from an empty set when the file does not exist (else that is an error). */
  create?: boolean;
  lock?: LockOptions;
}

/** Read-change-write rounds before giving up on a set that keeps changing under its lock. */
const MAX_ROUNDS = 5;

/**
 * Changes a JWK Set file under its lock: reads and parses it (or starts from `{"keys":[]}`),
 * applies `change`, and writes the result atomically. Right before the new file replaces the old,
 * it checks, with nothing in between, that it still holds the lock and that the file is still the
 * one it read; if not, it starts again (`change` may run more than once), and after a few rounds
 * fails, having written nothing. So it never returns for a change that is not in the file.
 * A set that is a symbolic link is changed through the link (lock and temp files next to the file
 * it points to); a dangling link, a directory, a FIFO or a device is refused before anything is
 * read or written. The file keeps its mode, except that a set holding private keys is written
 * 0600; a new public set is 0644.
 * @throws KeymintError ERR_INPUT_INVALID for a malformed set, ERR_IO, and what `change` throws;
 *   on any error the file is left as it was and no lock or temp file is left behind
 * @example await updateKeySetFile('jwks.json', (set) => addToKeySet(set, [jwk]), { create: true });
 */
export async function updateKeySetFile(
  path: string,
  change: (set: JwkSet) => KeySetChange | Promise<KeySetChange>,
  options: UpdateKeySetOptions = {},
): Promise<KeySetChange> {
  const missing = () => new KeymintError(ErrorCode.IO, `JWK Set ${path}: no such file or directory`);
  const target = await resolveFileToReplace(path, 'JWK Set');
  if (target === undefined && !options.create) throw missing();
  const file = target ?? path;
  const deadline = Date.now() + (options.lock?.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  let lost = 'file' as 'lock' | 'file';
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const timeoutMs = Math.max(0, deadline - Date.now());
    const written = await withFileLock(
      file,
      async (lock) => {
        const current = await readFileToReplace(file, 'JWK Set', path);
        if (current === undefined && !options.create) throw missing();
        const set = current === undefined ? { keys: [] } : parseKeySet(current.text, path);
        const result = await change(set);
        const mode = result.set.keys.some(isPrivateJwk) ? PRIVATE_FILE_MODE : (current?.mode ?? PUBLIC_FILE_MODE);
        const precondition = () => {
          if (!lock.held()) lost = 'lock';
          else if (!unchangedSince(file, current?.version)) lost = 'file';
          else return true;
          return false;
        };
        const next = { path: file, content: serializeKeySet(result.set), mode };
        return (await writeFilesAtomically([next], { force: true, precondition })) ? result : undefined;
      },
      { ...options.lock, timeoutMs },
    );
    if (written !== undefined) return written;
  }
  if (lost === 'lock') {
    const message = `${path}: keymint lost its lock ${file}.lock while changing the set (was it removed by hand?): nothing was written`;
    throw new KeymintError(ErrorCode.IO, message, { hint: 'try again' });
  }
  const message = `${path} was changed by another program while keymint was changing it, ${MAX_ROUNDS} times: nothing was written`;
  throw new KeymintError(ErrorCode.IO, message, {
    hint: `make sure every program that writes ${path} takes its lock ${file}.lock, then try again`,
  });
}
