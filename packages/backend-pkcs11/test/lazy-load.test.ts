import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useSoftHsm } from '@keymint/test-kit';

const softhsm = useSoftHsm();
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');

/** Runs a module in a fresh Node and reports whether the pkcs11js addon was loaded, before and after `use`. */
function probe(use: string): { before: boolean; after: boolean } {
  const script = `
    const loaded = () => process.report.getReport().sharedObjects.some((o) => o.endsWith('pkcs11.node'));
    const m = await import(${JSON.stringify(DIST)});
    const before = loaded();
    ${use}
    console.log(JSON.stringify({ before, after: loaded() }));`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: process.env,
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout) as { before: boolean; after: boolean };
}

describe('graphene-pk11 and its native addon load only when a module is used', () => {
  it('importing the package, parsing URIs and making a backend without a token load nothing native', () => {
    expect(probe(`m.parsePkcs11Uri('pkcs11:token=t'); await (await m.pkcs11Backend({})).close();`)).toEqual({
      before: false,
      after: false,
    });
  });

  it('listing tokens loads it', () => {
    expect(probe(`await m.listTokens({ modulePath: ${JSON.stringify(softhsm.module)} });`)).toEqual({
      before: false,
      after: true,
    });
  });
});
