import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTool } from '@keymint/test-kit';
import {
  FAST,
  decryptWithJose,
  expectKeyPair,
  keymintInPty,
  listDir,
  modeOf,
  protectedHeader,
  readJson,
  tempDir,
  writeFile,
  type Jwk,
  type PtyResult,
} from './helpers.js';

/**
 * The password prompt on a real terminal: a pseudo-terminal from Python's pty module
 * (fixtures/pty-driver.py) that types at the prompts only once the terminal's echo is off.
 */

const SECRET = 'Tr0ub4dor&3 pty secret';
const FIRST_PROMPT = 'Please enter the password to encrypt the private JWK: ';
const SECOND_PROMPT = 'Please enter the same password again: ';

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

function expectNoSecretShown(result: PtyResult, secret: string): void {
  expect(
    result.echoOff.every((off) => off),
    'echo was off at every answer',
  ).toBe(true);
  expect(result.output).not.toContain(secret);
  // Not even a part of it (a prompt that echoes a few characters before hiding the rest).
  expect(result.output).not.toContain(secret.slice(0, 4));
  expect(result.output).not.toContain('*'.repeat(secret.length));
}

describe('the password prompt on a terminal', () => {
  it('keymint create a.pub a.json asks twice and writes a key that decrypts with that password', async () => {
    const dir = tempDir();
    const result = await keymintInPty(['create', 'a.pub', 'a.json'], [SECRET, SECRET], { cwd: dir });
    expect(result.timedOut).toBe(false);
    expect(result.status, result.output).toBe(0);
    expect(result.answered).toBe(2);
    expect(count(result.output, FIRST_PROMPT)).toBe(1);
    expect(count(result.output, SECOND_PROMPT)).toBe(1);
    expect(result.output.indexOf(FIRST_PROMPT)).toBeLessThan(result.output.indexOf(SECOND_PROMPT));
    expectNoSecretShown(result, SECRET);
    expect(result.output).toMatch(/a\.json \(encrypted\)/);

    expect(listDir(dir)).toEqual(['a.json', 'a.pub']);
    expect(protectedHeader(join(dir, 'a.json')).p2c).toBe(600_000);
    const pub = readJson<Jwk>(join(dir, 'a.pub'));
    const priv = await decryptWithJose(join(dir, 'a.json'), SECRET);
    expectKeyPair(priv, pub);
    expect(priv.kid).toBe(pub.kid);
    await expect(decryptWithJose(join(dir, 'a.json'), SECRET.slice(1))).rejects.toThrow();
    expect(modeOf(join(dir, 'a.json'))).toBe(0o600);
    expect(modeOf(join(dir, 'a.pub'))).toBe(0o644);
  });

  it('keeps spaces at both ends of a typed password (only files are trimmed)', async () => {
    const dir = tempDir();
    const typed = '  spaced out  ';
    const result = await keymintInPty(['create', ...FAST, 'a.pub', 'a.json'], [typed, typed], { cwd: dir });
    expect(result.status, result.output).toBe(0);
    expect((await decryptWithJose(join(dir, 'a.json'), typed)).kty).toBe('EC');
  });

  it('two different passwords: exit 3, no file', async () => {
    const dir = tempDir();
    const result = await keymintInPty(['create', ...FAST, 'a.pub', 'a.json'], [SECRET, `${SECRET}x`], { cwd: dir });
    expect(result.status, result.output).toBe(3);
    expect(result.answered).toBe(2);
    expect(result.output).toMatch(/keymint: the two passwords do not match/);
    expect(result.output).not.toMatch(/^\s+at /m);
    expectNoSecretShown(result, SECRET);
    expect(listDir(dir)).toEqual([]);
  });

  it('an empty password: exit 3, no file, not asked a second time', async () => {
    const dir = tempDir();
    const result = await keymintInPty(['create', ...FAST, 'a.pub', 'a.json'], ['', ''], { cwd: dir });
    expect(result.status, result.output).toBe(3);
    expect(result.answered).toBe(1);
    expect(result.output).toMatch(/keymint: the password is empty/);
    expect(listDir(dir)).toEqual([]);
  });

  it('Ctrl-C at the prompt: exit 130, no file', async () => {
    const dir = tempDir();
    const result = await keymintInPty(['create', ...FAST, 'a.pub', 'a.json'], [], { cwd: dir });
    expect(result.status, result.output).toBe(130);
    expect(result.output).toMatch(/keymint: interrupted/);
    expect(listDir(dir)).toEqual([]);
  });

  it('parameters are checked before the prompt: a bad --kty fails without asking', async () => {
    const dir = tempDir();
    const result = await keymintInPty(['create', '--kty', 'DSA', 'a.pub', 'a.json'], [SECRET, SECRET], { cwd: dir });
    expect(result.status, result.output).toBe(3);
    expect(result.answered).toBe(0);
    expect(result.output).not.toContain('Please enter');
    expect(listDir(dir)).toEqual([]);
  });

  it('an existing output is asked about (and kept on no) before any password prompt', async () => {
    const dir = tempDir();
    writeFile(dir, 'a.json', 'keep\n');
    const result = await keymintInPty(['create', 'a.pub', 'a.json'], ['n', SECRET, SECRET], { cwd: dir });
    expect(result.status, result.output).toBe(7);
    expect(result.answered).toBe(1);
    expect(result.output).toContain('a.json already exists. Overwrite it? [y/N] ');
    expect(result.output).not.toMatch(/password/i);
    expect(listDir(dir)).toEqual(['a.json']);
  });

  it('--json never prompts, even on a terminal: exit 2 and a JSON error', async () => {
    const dir = tempDir();
    const result = await keymintInPty(['create', '--json', 'a.pub', 'a.json'], [SECRET, SECRET], { cwd: dir });
    expect(result.status, result.output).toBe(2);
    expect(result.answered).toBe(0);
    expect(result.output).not.toContain('Please enter');
    const json = JSON.parse(result.output.replace(/\r\n/g, '\n')) as { error: { code: string; message: string } };
    expect(json.error.code).toBe('ERR_PASSWORD_REQUIRED');
    expect(listDir(dir)).toEqual([]);
  });

  it('--password-file and --no-password --insecure do not prompt', async () => {
    const dir = tempDir();
    writeFile(dir, 'pass.txt', `${SECRET}\n`);
    const withFile = await keymintInPty(['create', ...FAST, '--password-file', 'pass.txt', 'a.pub', 'a.json'], [], {
      cwd: dir,
    });
    expect(withFile.status, withFile.output).toBe(0);
    expect(withFile.output).not.toContain('Please enter');
    const plain = await keymintInPty(['create', '--no-password', '--insecure', 'b.pub', 'b.json'], [], { cwd: dir });
    expect(plain.status, plain.output).toBe(0);
    expect(plain.output).not.toContain('Please enter');
    expect(existsSync(join(dir, 'b.json'))).toBe(true);
  });

  it('an encrypted --from-pem without --pem-password-file: asks for the PEM password once, then the new one twice', async () => {
    const dir = tempDir();
    runTool('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', 'plain.pem'], { cwd: dir });
    runTool('openssl', ['pkcs8', '-topk8', '-in', 'plain.pem', '-passout', 'pass:pem-secret-1', '-out', 'enc.pem'], {
      cwd: dir,
    });
    const result = await keymintInPty(
      ['create', ...FAST, '--from-pem', 'enc.pem', 'a.pub', 'a.json'],
      ['pem-secret-1', SECRET, SECRET],
      { cwd: dir },
    );
    expect(result.status, result.output).toBe(0);
    expect(result.answered).toBe(3);
    expect(count(result.output, 'Please enter the password to decrypt enc.pem: ')).toBe(1);
    expect(count(result.output, FIRST_PROMPT)).toBe(1);
    expectNoSecretShown(result, SECRET);
    expect(result.output).not.toContain('pem-secret-1');
    const priv = await decryptWithJose(join(dir, 'a.json'), SECRET);
    expect(priv).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expectKeyPair(priv, readJson<Jwk>(join(dir, 'a.pub')));
  });

  it('a wrong PEM password typed at the prompt: exit 6, no file', async () => {
    const dir = tempDir();
    runTool('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', 'plain.pem'], { cwd: dir });
    runTool('openssl', ['pkcs8', '-topk8', '-in', 'plain.pem', '-passout', 'pass:pem-secret-1', '-out', 'enc.pem'], {
      cwd: dir,
    });
    const result = await keymintInPty(
      ['create', ...FAST, '--from-pem', 'enc.pem', 'a.pub', 'a.json'],
      ['not-it', SECRET, SECRET],
      { cwd: dir },
    );
    expect(result.status, result.output).toBe(6);
    expect(result.answered).toBe(1);
    expect(result.output).toMatch(/keymint: wrong password for enc\.pem/);
    expect(listDir(dir)).toEqual(['enc.pem', 'plain.pem']);
  });
});
