import { chmodSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runTool, toolStatus, newKeyPair } from '@keymint/test-kit';
import { IS_ROOT, NOBODY, expectFailure, giveToNobody, listDir, type Jwk } from '../helpers.js';
import { ok } from '../toolbox/helpers.js';

/**
 * A key set change that fails for want of space, of a writable file system or of permission leaves
 * the set as it was and no lock or temp file behind, at each step: creating the lock, writing the
 * new set. The disk is real: a tmpfs of 64 KiB mounted for the test (root only).
 */

const KIB = 1024;

/** Mounts a fresh tmpfs of `kib` KiB, unmounted and removed when the test ends. */
function smallDisk(kib = 64): string {
  const mount = mkdtempSync(join(tmpdir(), 'keymint-disk-'));
  runTool('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0755`, 'tmpfs', mount]);
  onTestFinished(() => {
    // -l: a keymint still running there must not keep the test's disk mounted.
    toolStatus('umount', ['-l', mount]);
    rmSync(mount, { recursive: true, force: true });
  });
  return mount;
}

/** Bytes free on the file system of `dir`, for an unprivileged writer. */
const free = (dir: string) => {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
};

/** Fills the disk of `dir` until only `leave` bytes are free. */
function fill(dir: string, leave: number): void {
  writeFileSync(join(dir, 'filler'), Buffer.alloc(Math.max(0, free(dir) - leave)));
  expect(free(dir)).toBe(leave);
}

/** A set of `n` public EC keys, as text (about 190 bytes a key). */
function setOf(n: number): string {
  const keys = Array.from({ length: n }, (_, i) => ({
    ...(newKeyPair('ec', { namedCurve: 'P-256' }).publicJwk as Jwk),
    kid: `k${i}`,
  }));
  return `${JSON.stringify({ keys }, null, 2)}\n`;
}

/** A key to add, outside the small disk. */
function keyFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-disk-key-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'new.json');
  writeFileSync(path, JSON.stringify({ ...(newKeyPair('ed25519').publicJwk as Jwk), kid: 'new' }));
  return path;
}

describe.runIf(IS_ROOT)('keyset changes on a full, read-only or forbidden disk', () => {
  it('a disk full before the lock can be written: exit 8, no lock, no lock temp, the set unchanged', async () => {
    const disk = smallDisk();
    writeFileSync(join(disk, 'jwks.json'), setOf(2));
    fill(disk, 0);
    const key = keyFile();
    await expectFailure(disk, ['keyset', 'add', 'jwks.json', key], 8, [
      /jwks\.json: cannot create the lock file jwks\.json\.lock \(ENOSPC\)/,
    ]);
    await expectFailure(disk, ['keyset', 'remove', '--kid', 'k0', 'jwks.json'], 8, [/ENOSPC/]);
    rmSync(join(disk, 'filler'));
    await ok(['keyset', 'add', 'jwks.json', key], { cwd: disk });
    expect(listDir(disk)).toEqual(['jwks.json']);
  });

  it('room for the lock but not for the new set: exit 8, the lock and the temp file removed, the set unchanged', async () => {
    const disk = smallDisk();
    const text = setOf(100);
    expect(text.length).toBeGreaterThan(12 * KIB);
    writeFileSync(join(disk, 'jwks.json'), text);
    // Two pages: one for the lock, one for a few bytes of the new set.
    fill(disk, 8 * KIB);
    const key = keyFile();
    await expectFailure(disk, ['keyset', 'add', 'jwks.json', key], 8, [
      /^keymint: jwks\.json: no space left on the device\n$/,
    ]);
    await expectFailure(disk, ['keyset', 'remove', '--kid', 'k0', 'jwks.json'], 8, [/no space left on the device/]);
    expect(readFileSync(join(disk, 'jwks.json'), 'utf8')).toBe(text);
    rmSync(join(disk, 'filler'));
    await ok(['keyset', 'add', 'jwks.json', key], { cwd: disk });
    expect(listDir(disk)).toEqual(['jwks.json']);
  });

  it('a read-only file system: exit 8, nothing changed', async () => {
    const disk = smallDisk();
    writeFileSync(join(disk, 'jwks.json'), setOf(2));
    runTool('mount', ['-o', 'remount,ro', disk]);
    await expectFailure(disk, ['keyset', 'add', 'jwks.json', keyFile()], 8, [
      /cannot create the lock file jwks\.json\.lock \(EROFS\)/,
    ]);
  });

  it('a directory the user may not write in (the set itself writable): exit 8, nothing changed', async () => {
    const disk = smallDisk();
    writeFileSync(join(disk, 'jwks.json'), setOf(2));
    giveToNobody(join(disk, 'jwks.json'));
    chmodSync(disk, 0o755);
    const key = keyFile();
    chmodSync(join(key, '..'), 0o755);
    await expectFailure(
      disk,
      ['keyset', 'add', 'jwks.json', key],
      8,
      [/cannot create the lock file jwks\.json\.lock \(EACCES\)/],
      { user: NOBODY },
    );
  });
});
