import { describe, expect, it } from 'vitest';
import { expectFailure, keymint, tempDir } from '../helpers.js';

/** Issue 12: the token endpoint of a client assertion, as RFC 6749 §3.2 wants it. */
describe('jwt client-assertion --token-endpoint', () => {
  async function withKey(): Promise<string> {
    const dir = tempDir();
    expect((await keymint(['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'], { cwd: dir })).code).toBe(
      0,
    );
    return dir;
  }
  const args = (endpoint: string, ...more: string[]) => [
    'jwt',
    'client-assertion',
    '--key',
    'k.json',
    '--client-id',
    'c1',
    '--token-endpoint',
    endpoint,
    ...more,
  ];

  it('refuses a fragment (exit 3)', async () => {
    const dir = await withKey();
    await expectFailure(dir, args('https://as.example.com/token#frag'), 3, [
      /has a fragment \("#\.\.\."\), which a token endpoint URI must not have \(RFC 6749 §3\.2\)/,
    ]);
  });

  it('refuses http for another host than localhost, and says which option allows it', async () => {
    const dir = await withKey();
    await expectFailure(dir, args('http://10.0.0.5:8080/token'), 3, [
      /is not an https URL/,
      /for another host only with --insecure \(a development server\)/,
    ]);
  });

  it('with --insecure: signs for an http endpoint on a LAN or in Docker, with a warning on stderr', async () => {
    const dir = await withKey();
    const result = await keymint(args('http://as.docker.internal:8080/token', '--insecure'), { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe(
      'keymint: warning: the token endpoint http://as.docker.internal:8080/token is not https: the assertion travels in the clear and can be replayed until it expires\n',
    );
    const claims = JSON.parse(Buffer.from(result.stdout.trim().split('.')[1] as string, 'base64url').toString()) as {
      aud: string;
    };
    expect(claims.aud).toBe('http://as.docker.internal:8080/token');
    const json = await keymint(args('http://as.docker.internal:8080/token', '--insecure', '--json'), { cwd: dir });
    expect(JSON.parse(json.stdout)).toHaveProperty('jwt');
    expect(json.stderr).toMatch(/^keymint: warning: /);
  });

  it('allows http on localhost without the option and without a warning', async () => {
    const dir = await withKey();
    const result = await keymint(args('http://localhost:8080/token'), { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });

  it('an unknown option points at the help of its own command', async () => {
    const dir = await withKey();
    await expectFailure(dir, args('https://as/token', '--bogus'), 2, [
      /unknown option '--bogus'; see keymint jwt client-assertion --help\n$/,
    ]);
    await expectFailure(dir, ['keyset', 'add', '--bogus', 'jwks.json'], 2, [/see keymint keyset add --help\n$/]);
  });
});
