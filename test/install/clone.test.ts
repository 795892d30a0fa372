import { copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, runProgram, tempDir } from '../helpers.js';

// What a clone offers without npm: the ./keymint shim and the Node headers script.
const VERSION = (JSON.parse(readFileSync(join(REPO, 'apps', 'cli', 'package.json'), 'utf8')) as { version: string })
  .version;
const PATH_WITH = (dir: string) => `${dir}:${process.env.PATH ?? ''}`;

describe('./keymint linked onto PATH', () => {
  it('runs the bundle of the checkout it belongs to, through an absolute link, from any directory', async () => {
    const bin = join(tempDir(), 'bin');
    mkdirSync(bin);
    symlinkSync(join(REPO, 'keymint'), join(bin, 'keymint'));
    const result = await runProgram('keymint', ['--version'], { cwd: tempDir(), env: { PATH: PATH_WITH(bin) } });
    expect(result).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('follows a chain of relative links', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'tools'));
    // bin/keymint -> ../tools/km -> the checkout's ./keymint
    symlinkSync(join(REPO, 'keymint'), join(dir, 'tools', 'km'));
    symlinkSync(join('..', 'tools', 'km'), join(dir, 'bin', 'keymint'));
    const result = await runProgram('keymint', ['--version'], { cwd: '/', env: { PATH: PATH_WITH(join(dir, 'bin')) } });
    expect(result).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });
});

describe('scripts/node-headers.sh', () => {
  const script = join(REPO, 'scripts', 'node-headers.sh');

  it("prints the directory of the running Node's headers, which holds include/node/node_api.h", async () => {
    const result = await runProgram('/bin/sh', [script], { cwd: tempDir() });
    expect(result.code, result.stderr).toBe(0);
    const dir = result.stdout.trim();
    expect(dir).toBe(dirname(dirname(process.execPath)));
    expect(readFileSync(join(dir, 'include', 'node', 'node_api.h'), 'utf8')).toMatch(/napi_/);
  });

  it('says in one line what to do when the Node on PATH has no headers next to it', async () => {
    // A copy of this Node in a directory of its own: the same Node, with no include/node beside it.
    const prefix = tempDir();
    mkdirSync(join(prefix, 'bin'));
    copyFileSync(process.execPath, join(prefix, 'bin', 'node'));
    const result = await runProgram('/bin/sh', [script], {
      cwd: prefix,
      env: { PATH: PATH_WITH(join(prefix, 'bin')) },
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^keymint: [^\n]+\n$/);
    expect(result.stderr).toContain(
      `the Node at ${join(prefix, 'bin', 'node')} has no headers in ${join(prefix, 'include', 'node')}`,
    );
    expect(result.stderr).toMatch(/libnode-dev/);
    expect(result.stderr).toMatch(/set npm_config_nodedir to a directory that holds include\/node\/node_api\.h/);
  });
});
