import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flattenedDecrypt, type FlattenedJWE } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON } from '@keymint/test-kit';
import { PASSWORD, keymint, passwordFile } from '../helpers.js';

/**
 * What the README says about opening keymint's encrypted key files with other JOSE libraries,
 * each statement checked with the library itself: panva jose (npm), jwcrypto (Debian's), and
 * go-jose (Debian's golang-gopkg-square-go-jose.v2, the family step uses), at their defaults and
 * with the options the README names.
 */
const dir = mkdtempSync(join(tmpdir(), 'keymint-interop-pbes2-'));
const files: Record<number, string> = {};
const COUNTS = [10_000, 16_384, 16_385, 600_000, 1_000_000];

beforeAll(async () => {
  const pass = passwordFile(dir);
  for (const count of COUNTS) {
    const made = await keymint(
      ['create', '--pbes2-count', String(count), '--password-file', pass, `k${count}.pub.json`, `k${count}.json`],
      { cwd: dir },
    );
    expect(made.code, made.stderr).toBe(0);
    files[count] = join(dir, `k${count}.json`);
  }
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function jose(count: number, options: Parameters<typeof flattenedDecrypt>[2]): Promise<string> {
  try {
    const { plaintext } = await flattenedDecrypt(
      JSON.parse(readFileSync(files[count] as string, 'utf8')) as FlattenedJWE,
      new TextEncoder().encode(PASSWORD),
      options,
    );
    return (JSON.parse(Buffer.from(plaintext).toString()) as { kty: string }).kty;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe('panva jose 6', () => {
  it('opens no PBES2 file with its defaults: PBES2 has to be allowed by name', async () => {
    expect(await jose(10_000, undefined)).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it("opens p2c up to 10000 with keyManagementAlgorithms: ['PBES2-HS256+A128KW'], and above that also needs maxPBES2Count", async () => {
    const allow = { keyManagementAlgorithms: ['PBES2-HS256+A128KW'] };
    expect(await jose(10_000, allow)).toBe('EC');
    expect(await jose(16_384, allow)).toBe('ERR_JWE_INVALID');
    expect(await jose(600_000, allow)).toBe('ERR_JWE_INVALID');
    expect(await jose(600_000, { ...allow, maxPBES2Count: 1_000_000 })).toBe('EC');
    expect(await jose(1_000_000, { ...allow, maxPBES2Count: 1_000_000 })).toBe('EC');
  });
});

const JWCRYPTO = `
import json, sys
from jwcrypto import jwe, jwk
import jwcrypto.jwa
if len(sys.argv) > 3:
    jwcrypto.jwa.default_max_pbkdf2_iterations = int(sys.argv[3])
key = jwk.JWK.from_password(sys.argv[2])
token = jwe.JWE()
token.deserialize(open(sys.argv[1]).read(), key=key)
print(json.loads(token.payload)["kty"])
`;

describe("jwcrypto (Debian's)", () => {
  const version = spawnSync(
    PYTHON,
    ['-c', 'import jwcrypto; print(jwcrypto.__version__ if hasattr(jwcrypto, "__version__") else "")'],
    { encoding: 'utf8' },
  ).stdout.trim();

  it('opens every file keymint writes at its defaults (Debian bookworm has 1.1, which has no cap); the 1.5+ setting is accepted as well', () => {
    for (const count of COUNTS) {
      const plain = spawnSync(PYTHON, ['-c', JWCRYPTO, files[count] as string, PASSWORD], { encoding: 'utf8' });
      expect(plain.stdout.trim(), `p2c ${count}: ${plain.stderr} (jwcrypto ${version})`).toBe('EC');
      const raised = spawnSync(PYTHON, ['-c', JWCRYPTO, files[count] as string, PASSWORD, '1000000'], {
        encoding: 'utf8',
      });
      expect(raised.stdout.trim(), raised.stderr).toBe('EC');
    }
  });
});

const GO_PROGRAM = `package main

import (
	"fmt"
	"os"

	jose "gopkg.in/square/go-jose.v2"
)

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	token, err := jose.ParseEncrypted(string(data))
	if err != nil {
		fmt.Println("parse:", err)
		os.Exit(2)
	}
	plain, err := token.Decrypt(os.Args[2])
	if err != nil {
		fmt.Println("decrypt:", err)
		os.Exit(3)
	}
	fmt.Println(string(plain))
}
`;

describe("go-jose (Debian's square/go-jose.v2)", () => {
  let binary = '';
  beforeAll(() => {
    const src = mkdtempSync(join(tmpdir(), 'keymint-gojose-'));
    writeFileSync(join(src, 'main.go'), GO_PROGRAM);
    binary = join(src, 'open-jwe');
    const env = {
      ...process.env,
      GOPATH: '/usr/share/gocode',
      GO111MODULE: 'off',
      GOFLAGS: '',
      GOCACHE: join(src, 'cache'),
      HOME: src,
    };
    const built = spawnSync('go', ['build', '-o', binary, join(src, 'main.go')], {
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(built.status, built.stderr).toBe(0);
  }, 300_000);

  it('opens keymint files at the default count and at 1000000 with no option', () => {
    for (const count of [600_000, 1_000_000]) {
      const opened = spawnSync(binary, [files[count] as string, PASSWORD], { encoding: 'utf8' });
      expect(opened.status, opened.stdout).toBe(0);
      expect(JSON.parse(opened.stdout)).toMatchObject({ kty: 'EC' });
    }
  });
});
