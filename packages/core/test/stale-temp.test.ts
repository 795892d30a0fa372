import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { deadPid } from '@keymint/test-kit';
import {
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  STALE_TEMP_MS,
  removeStaleTemps,
  writeFilesAtomically,
} from '../src/files.js';

/**
 * A killed write leaves `.<name>.keymint-<tag><pid><random>.tmp` files (half-written temps, and
 * backups that are hard links of the old private key). The next successful write of the same name
 * removes those whose writer is provably gone (this host's tag, a pid that no longer exists), the
 * pid-less names of older keymints once over a minute old, and nothing else.
 */

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymint-stale-'));
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

const hex8 = (pid: number) => pid.toString(16).padStart(8, '0');
const RANDOM = 'a1b2c3d4e5f6';
const temp = (target: string, pid: number, random = RANDOM) => `.${target}.keymint-${hex8(pid)}${random}.tmp`;
/** This host's tag, computed here independently: 8 hex digits of sha256(hostname NUL pid-namespace). */
const TAG = createHash('sha256')
  .update(`${hostname()}\0${readlinkSync('/proc/self/ns/pid')}`)
  .digest('hex')
  .slice(0, 8);
/** A name as keymint writes it now: host tag, pid, random. */
const tagged = (target: string, pid: number, tag = TAG, random = RANDOM) =>
  `.${target}.keymint-${tag}${hex8(pid)}${random}.tmp`;
/** A name as keymint wrote it before the pid was part of it: only its age tells. */
const oldStyle = (target: string, random = RANDOM) => `.${target}.keymint-${random}.tmp`;
const IS_ROOT = process.getuid?.() === 0;

function put(name: string, content = 'half a key'): string {
  writeFileSync(join(dir, name), content);
  return name;
}

async function writeKey(options: { force?: boolean } = {}): Promise<void> {
  await writeFilesAtomically(
    [
      { path: join(dir, 'key.pub.json'), content: 'public', mode: PUBLIC_FILE_MODE },
      { path: join(dir, 'key.json'), content: 'private', mode: PRIVATE_FILE_MODE },
    ],
    options,
  );
}

const list = () => readdirSync(dir).sort();

describe('stale keymint temp files', () => {
  it('a write removes the temps of its own names whose writer is gone, and keeps those of a live writer', async () => {
    const dead = await deadPid();
    const removed = [put(temp('key.json', dead)), put(temp('key.pub.json', dead, 'ffffffffffff'))];
    const kept = [
      put(temp('key.json', process.pid, '000000000001')), // this process: a write in flight
      put(temp('key.json', process.ppid, '000000000002')), // a live process
      put(oldStyle('key.json')), // no pid, fresh
    ];
    await writeKey();
    expect(list()).toEqual(['key.json', 'key.pub.json', ...kept].sort());
    for (const name of removed) expect(list()).not.toContain(name);
  });

  it('never touches anything that is not a keymint temp file of the names written', async () => {
    const dead = await deadPid();
    const others = [
      put(temp('other.json', dead)), // another target's temp
      put(temp('key.json.bak', dead)), // another target whose name starts alike
      put(`.key.json.keymint-${hex8(dead)}${RANDOM}.tmp.keep`), // does not end in .tmp
      put(`key.json.keymint-${hex8(dead)}${RANDOM}.tmp`), // no leading dot
      put(`.key.json.keymint-${hex8(dead)}${RANDOM.toUpperCase()}.tmp`), // not lowercase hex
      put(`.key.json.keymint-${hex8(dead)}${RANDOM}0.tmp`), // 21 digits
      put(`.key.json.keymint-${RANDOM.slice(1)}.tmp`), // 11 digits
      put(`.key.json.keymint-zz${RANDOM.slice(2)}.tmp`), // not hex
      put(`.key.json.keymint-.tmp`),
      put('.key.json.tmp'),
      put('notes.txt'),
    ];
    // A directory and a symbolic link with a dead writer's name: not files, not removed (and the
    // file the link points at survives).
    const asDir = temp('key.json', dead, '111111111111');
    mkdirSync(join(dir, asDir));
    writeFileSync(join(dir, asDir, 'inside'), 'x');
    const outside = mkdtempSync(join(tmpdir(), 'keymint-stale-outside-'));
    writeFileSync(join(outside, 'precious'), 'precious');
    const asLink = temp('key.json', dead, '222222222222');
    symlinkSync(join(outside, 'precious'), join(dir, asLink));
    try {
      await writeKey();
      expect(list()).toEqual(['key.json', 'key.pub.json', ...others, asDir, asLink].sort());
      expect(readFileSync(join(outside, 'precious'), 'utf8')).toBe('precious');
      expect(readdirSync(join(dir, asDir))).toEqual(['inside']);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it.runIf(IS_ROOT)("keeps another user's temp files, even with a dead writer", async () => {
    const dead = await deadPid();
    const theirs = put(temp('key.json', dead));
    chownSync(join(dir, theirs), 65534, 65534);
    await writeKey();
    expect(list()).toEqual(['key.json', 'key.pub.json', theirs].sort());
  });

  it("only names without a pid (older keymint) are judged by age: a live writer's temp is never stale, however old", async () => {
    const stopped = spawn('sleep', ['600']);
    onTestFinished(() => void stopped.kill('SIGKILL'));
    await new Promise((resolve) => stopped.on('spawn', resolve));
    process.kill(stopped.pid as number, 'SIGSTOP');
    const live = [
      put(temp('key.json', process.ppid)),
      put(temp('key.json', process.pid, '000000000003')),
      put(tagged('key.json', stopped.pid as number)), // a writer stopped (SIGSTOP) for as long as it likes
      put(tagged('key.pub.json', process.ppid)),
    ];
    const legacy = put(oldStyle('key.pub.json'));
    const other = put(oldStyle('other.json'));
    await writeKey();
    expect(list()).toEqual(['key.json', 'key.pub.json', ...live, legacy, other].sort());

    // Ages are read from the clock: an hour later, only the name without a pid is stale.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 60 * STALE_TEMP_MS);
    await writeKey({ force: true });
    expect(list()).toEqual(['key.json', 'key.pub.json', ...live, other].sort());
  });

  it('temps tagged by another host (or PID namespace) are never judged here, even with a pid that is gone here', async () => {
    const dead = await deadPid();
    const theirs = [put(tagged('key.json', dead, '0badc0de')), put(tagged('key.json', process.ppid, '0badc0de'))];
    const ours = put(tagged('key.json', dead));
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 60 * STALE_TEMP_MS);
    await writeKey();
    expect(list()).toEqual(['key.json', 'key.pub.json', ...theirs].sort());
    expect(list()).not.toContain(ours);
  });

  it("judges age by ctime: a backup (a hard link of an old key) is fresh however old the key's mtime", async () => {
    put('old-key.json', 'the old private key');
    utimesSync(join(dir, 'old-key.json'), new Date('2001-01-01'), new Date('2001-01-01'));
    const backup = temp('key.json', process.ppid);
    linkSync(join(dir, 'old-key.json'), join(dir, backup));
    await writeKey();
    expect(list()).toContain(backup);
  });

  it('a failed write removes nothing: the directory stays as it was', async () => {
    const dead = await deadPid();
    const stale = put(temp('key.json', dead));
    put('key.json', 'existing');
    await expect(writeKey()).rejects.toMatchObject({ code: 'ERR_FILE_EXISTS' });
    expect(list()).toEqual(['key.json', stale].sort());
    // The next successful write cleans up.
    await writeKey({ force: true });
    expect(list()).toEqual(['key.json', 'key.pub.json']);
  });

  it('names with characters a pattern would misread are matched literally', async () => {
    const dead = await deadPid();
    const target = 'a+b (1)[x].json';
    const stale = put(temp(target, dead));
    const lookalike = put(temp('a+b (1)[y].json', dead));
    await writeFilesAtomically([{ path: join(dir, target), content: 'k', mode: PRIVATE_FILE_MODE }]);
    expect(list()).toEqual([target, lookalike].sort());
    expect(list()).not.toContain(stale);
  });

  it('the temps keymint writes carry its pid, so a later run can tell when the writer is gone', async () => {
    const seen: string[] = [];
    const watcher = watch(dir, (_event, name) => {
      if (name !== null && !seen.includes(name)) seen.push(name);
    });
    try {
      // The first file of the pair exists: it is backed up (a hard link) until the second is in place.
      put('key.pub.json', 'old');
      await writeKey({ force: true });
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      watcher.close();
    }
    const temps = seen.filter((name) => name.endsWith('.tmp'));
    // A temp for each file, and a backup of the replaced key.pub.json.
    expect(temps.length).toBeGreaterThanOrEqual(3);
    for (const name of temps)
      expect(name).toMatch(
        new RegExp(`^\\.key(\\.pub)?\\.json\\.keymint-${TAG}${hex8(process.pid)}[0-9a-f]{12}\\.tmp$`),
      );
    expect(list()).toEqual(['key.json', 'key.pub.json']);
  });

  it('removeStaleTemps reports what it removed and never throws', async () => {
    const dead = await deadPid();
    const stale = put(temp('key.json', dead));
    expect(await removeStaleTemps(join(dir, 'key.json'))).toEqual([join(dir, stale)]);
    expect(await removeStaleTemps(join(dir, 'key.json'))).toEqual([]);
    expect(await removeStaleTemps(join(dir, 'no-such-dir', 'key.json'))).toEqual([]);
  });
});
