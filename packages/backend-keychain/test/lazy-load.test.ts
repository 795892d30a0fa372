import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@keymint/core';

const script = join(dirname(fileURLToPath(import.meta.url)), 'support', 'create-key.mjs');

describe('the native binding', () => {
  it('is loaded on first use only, and a binding that cannot load is ERR_BACKEND_UNAVAILABLE with an install hint', () => {
    // Pointing the napi-rs loader at a file that does not exist makes the binding fail to load.
    const run = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      const m = await import(${JSON.stringify(join(dirname(script), '..', '..', 'dist', 'index.js'))});
      const backend = await m.keychainBackend();
      process.stdout.write(backend.name + '\\n');
      await import(${JSON.stringify(script)});
    `,
        'service',
      ],
      { encoding: 'utf8', env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/keyring.node' } },
    );
    const [name, outcome] = run.stdout.split('\n');
    expect(name, run.stderr).toBe('keychain');
    expect(JSON.parse(outcome as string)).toMatchObject({
      ok: false,
      code: ErrorCode.BACKEND_UNAVAILABLE,
      message: expect.stringMatching(/^the keychain binding @napi-rs\/keyring could not be loaded on linux-/),
      hint: expect.stringContaining('pnpm add @napi-rs/keyring'),
    });
  });
});
