import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectFailure, keymint, keymintInPty, snapshot, tempDir, writeFile } from './helpers.js';

/**
 * step asks before it overwrites a file on a terminal; keymint does the same (issue 12), with no as
 * the default, and keeps refusing (exit 7) where nobody can answer: no terminal, or --json.
 */
describe('an existing output on a terminal', () => {
  it('create asks for each file that exists: y replaces it, n (or Enter) keeps everything', async () => {
    const dir = tempDir();
    writeFile(dir, 'k.pub.json', 'old public\n');
    writeFile(dir, 'k.json', 'old private\n');
    const before = snapshot(dir);

    const kept = await keymintInPty(['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'], ['n'], {
      cwd: dir,
    });
    expect(kept.output).toContain('k.pub.json already exists. Overwrite it? [y/N] ');
    expect(kept.output).toMatch(
      /keymint: k\.pub\.json already exists and was kept: nothing was written; answer y, or give --force to replace it/,
    );
    expect(kept.status).toBe(7);
    expect(snapshot(dir)).toEqual(before);

    const enter = await keymintInPty(['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'], [''], {
      cwd: dir,
    });
    expect(enter.status).toBe(7);
    expect(snapshot(dir)).toEqual(before);

    const half = await keymintInPty(['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'], ['y', 'n'], {
      cwd: dir,
    });
    expect(half.output).toContain('k.json already exists. Overwrite it? [y/N] ');
    expect(half.status).toBe(7);
    expect(snapshot(dir)).toEqual(before);

    const replaced = await keymintInPty(
      ['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'],
      ['y', 'yes'],
      { cwd: dir },
    );
    expect(replaced.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'k.pub.json'), 'utf8'))).toMatchObject({ kty: 'EC' });
    expect(JSON.parse(readFileSync(join(dir, 'k.json'), 'utf8'))).toHaveProperty('d');
  });

  it('pem --out asks too; without a terminal, and with --json, the refusal stands (exit 7)', async () => {
    const dir = tempDir();
    expect((await keymint(['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'], { cwd: dir })).code).toBe(
      0,
    );
    writeFile(dir, 'k.pem', 'old pem\n');
    const args = ['pem', '--no-password', '--insecure', '--out', 'k.pem', 'k.json'];
    await expectFailure(dir, args, 7, [/k\.pem already exists: keymint does not overwrite files; use --force/]);
    const json = await keymintInPty([...args, '--json'], [], { cwd: dir });
    expect(json.output).not.toContain('[y/N]');
    expect(json.status).toBe(7);
    const no = await keymintInPty(args, ['n'], { cwd: dir });
    expect(no.output).toContain('k.pem already exists. Overwrite it? [y/N] ');
    expect(no.status).toBe(7);
    expect(readFileSync(join(dir, 'k.pem'), 'utf8')).toBe('old pem\n');
    const yes = await keymintInPty(args, ['y'], { cwd: dir });
    expect(yes.status).toBe(0);
    expect(readFileSync(join(dir, 'k.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('--force replaces without asking', async () => {
    const dir = tempDir();
    writeFile(dir, 'k.pub.json', 'old\n');
    const forced = await keymintInPty(
      ['create', '--force', '--no-password', '--insecure', 'k.pub.json', 'k.json'],
      [],
      { cwd: dir },
    );
    expect(forced.output).not.toContain('[y/N]');
    expect(forced.status).toBe(0);
  });
});
