import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rejection } from '@keymint/test-kit';
import { KeymintError } from '@keymint/core';
import { parsePkcs11Uri } from '../src/parse-pkcs11-uri.js';
import { pinSourcePath, readPinFile, resolvePin } from '../src/resolve-pin.js';

const dir = mkdtempSync(join(tmpdir(), 'keymint-pin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pinFile = join(dir, 'pin');
writeFileSync(pinFile, '4321 \n');

describe('PIN sources', () => {
  it('reads pin-source as file:/path, file:///path, file://localhost/path or a plain path', () => {
    expect(pinSourcePath('file:/etc/token_pin')).toBe('/etc/token_pin');
    expect(pinSourcePath('file:///etc/token_pin')).toBe('/etc/token_pin');
    expect(pinSourcePath('file://localhost/etc/token_pin')).toBe('/etc/token_pin');
    expect(pinSourcePath('/etc/token_pin')).toBe('/etc/token_pin');
    expect(pinSourcePath('file:pin.txt')).toBe(resolve('pin.txt'));
  });

  it('refuses programs, other hosts and other schemes', () => {
    for (const source of ['|/bin/get-pin', 'https://example.com/pin', 'file://otherhost/pin', 'file:']) {
      expect(() => pinSourcePath(source)).toThrow(KeymintError);
    }
  });

  it('reads the first line of a PIN file, trailing whitespace removed', async () => {
    expect(await readPinFile(pinFile)).toBe('4321');
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect((await rejection(readPinFile(empty))).code).toBe('ERR_PARAM_INVALID');
    expect((await rejection(readPinFile(join(dir, 'missing')))).code).toBe('ERR_IO');
  });

  it('takes pin-value, then pin-source, then the API pin, then KEYMINT_PKCS11_PIN, then the prompt', async () => {
    const prompt = async () => 'from-prompt';
    const env = { KEYMINT_PKCS11_PIN: 'from-env' };
    expect(
      await resolvePin(parsePkcs11Uri('pkcs11:?pin-value=from-uri'), '"t"', { pin: 'api', env, promptPin: prompt }),
    ).toBe('from-uri');
    expect(
      await resolvePin(parsePkcs11Uri(`pkcs11:?pin-source=file:${pinFile}`), '"t"', {
        pin: 'api',
        env,
        promptPin: prompt,
      }),
    ).toBe('4321');
    expect(await resolvePin({}, '"t"', { pin: 'api', env, promptPin: prompt })).toBe('api');
    expect(await resolvePin({}, '"t"', { env, promptPin: prompt })).toBe('from-env');
    expect(await resolvePin({}, '"t"', { env: {}, promptPin: prompt })).toBe('from-prompt');
  });

  it('asks with the token named, and refuses an empty answer', async () => {
    const questions: string[] = [];
    await resolvePin({}, '"hsm" (serial 1)', {
      env: {},
      promptPin: async (q) => {
        questions.push(q);
        return '1';
      },
    });
    expect(questions).toEqual(['PIN for token "hsm" (serial 1): ']);
    expect((await rejection(resolvePin({}, '"t"', { env: {}, promptPin: async () => '' }))).code).toBe(
      'ERR_PARAM_INVALID',
    );
  });

  it('fails with ERR_PASSWORD_REQUIRED and a hint when nobody can be asked', async () => {
    const error = await rejection(resolvePin({}, '"t"', { env: {} }));
    expect(error.code).toBe('ERR_PASSWORD_REQUIRED');
    expect(error.message).toBe('the PIN of token "t" is needed and there is no terminal to ask for it');
    expect(error.hint).toContain('KEYMINT_PKCS11_PIN');
  });
});
