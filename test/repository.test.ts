import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers.js';

describe('the repository a user clones', () => {
  it("ignores both files of the README's quick start: the public key and the unencrypted private key", () => {
    const ignored = spawnSync('git', ['check-ignore', 'demo.pub.json', 'demo.json'], { cwd: REPO, encoding: 'utf8' });
    expect(ignored.status, ignored.stderr).toBe(0);
    expect(ignored.stdout.trim().split('\n').sort()).toEqual(['demo.json', 'demo.pub.json']);
  });
});
