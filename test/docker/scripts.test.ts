import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolStatus, type ToolResult } from '@keymint/test-kit';
import { BIN, PASSWORD, REPO, decryptWithJose, expectKeyPair, readJson, type Jwk } from '../helpers.js';

/**
 * The scripts the Dockerfiles call, run outside Docker (no Docker engine runs here): the CLI build
 * into a prefix, the runtime preparation, the entry points and the SoftHSM token set-up. Then the
 * Dockerfiles and the compose file are checked for their structure: stages, user, no build tools
 * in the final stage, and that every file they copy exists.
 */

const DOCKER = join(REPO, 'docker');
const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const root = mkdtempSync(join(tmpdir(), 'keymint-docker-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Ran = ToolResult;

function sh(
  script: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string; timeout?: number } = {},
): Ran {
  const { cwd = root, timeout = 60_000, ...rest } = options;
  return toolStatus('sh', [script, ...args], { cwd, timeoutMs: timeout, ...rest });
}

function ok(ran: Ran, what: string): Ran {
  expect(ran.status, `${what}: ${ran.stderr}`).toBe(0);
  return ran;
}

function tool(command: string, args: readonly string[], env: Record<string, string> = {}): Ran {
  return toolStatus(command, args, { env, timeoutMs: 60_000 });
}

function fresh(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---- Dockerfile parsing -----------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile, comments dropped and continuation lines joined, grouped by stage. */
function parseDockerfile(path: string): Stage[] {
  const lines = readFileSync(path, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [, from = '', name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
    } else {
      expect(stages.length, `${path}: ${keyword} before the first FROM`).toBeGreaterThan(0);
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

/** A COPY's flags, sources and destination (JSON or plain form). */
function parseCopy(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (let m = /^--([\w-]+)=(\S+)\s+/.exec(rest); m !== null; m = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    flags[m[1] as string] = m[2] as string;
    rest = rest.slice(m[0].length);
  }
  const parts = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  return { flags, sources: parts.slice(0, -1), dest: parts.at(-1) as string };
}

/** The command of a RUN/ENTRYPOINT/CMD: exec form (JSON) joined, or the shell form. */
function commandOf(args: string): string {
  return args.startsWith('[') ? (JSON.parse(args) as string[]).join(' ') : args;
}

const BUILD_TOOLS = new Set([
  'pnpm',
  'npm',
  'npx',
  'yarn',
  'corepack',
  'node-gyp',
  'gcc',
  'g++',
  'cc',
  'c++',
  'make',
  'build-essential',
  'python3',
  'python',
  'clang',
  'cmake',
]);
/** The build tools a command or package list names (words split on blanks and shell punctuation; a path counts by its last part). */
function buildToolsIn(text: string): string[] {
  return text
    .split(/[\s;&|()'"`]+/)
    .map((word) => word.split('/').at(-1) as string)
    .filter((word) => BUILD_TOOLS.has(word) || /^(gcc|g\+\+|python3)-[\d.]+$/.test(word));
}

const DOCKERFILES = ['cli', 'softhsm'].map((name) => ({ name, path: join(DOCKER, name, 'Dockerfile') }));

describe('the Dockerfiles', () => {
  it.each(DOCKERFILES)('$name: a build stage on node:20 and a small runtime stage on node:20-slim', ({ path }) => {
    const stages = parseDockerfile(path);
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    const [build, runtime] = stages as [Stage, Stage];
    expect(build.from).toMatch(/^node:20(-bookworm)?$/);
    expect(runtime.from).toMatch(/^node:20(-bookworm)?-slim$/);
    // The build stage copies the context and runs the build script into a prefix ...
    const builds = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => commandOf(i.args));
    const prefix = builds.map((c) => /docker\/cli\/build\.sh (\/\S+)/.exec(c)?.[1]).find((p) => p !== undefined);
    expect(prefix, 'the build stage runs docker/cli/build.sh PREFIX').toBeDefined();
    // ... and the runtime stage takes exactly that prefix from it.
    const fromBuild = runtime.instructions
      .filter((i) => i.keyword === 'COPY')
      .map((i) => parseCopy(i.args))
      .filter((c) => c.flags.from === 'build');
    expect(fromBuild).toEqual([{ flags: { from: 'build' }, sources: [prefix], dest: prefix }]);
  });

  it.each(DOCKERFILES)(
    '$name: the final stage runs as a non-root user, through an entry point script it copies',
    ({ path }) => {
      const runtime = parseDockerfile(path).at(-1) as Stage;
      const users = runtime.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args.trim());
      expect(users.length).toBeGreaterThan(0);
      const user = users.at(-1) as string;
      expect(user.split(':')[0], 'USER is not root').not.toMatch(/^(root|0)$/);
      const keywords = runtime.instructions.map((i) => i.keyword);
      expect(keywords.lastIndexOf('USER'), 'USER comes after every RUN').toBeGreaterThan(keywords.lastIndexOf('RUN'));
      const entry = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT');
      expect(entry?.args.startsWith('['), 'ENTRYPOINT in exec form').toBe(true);
      const entryScript = (JSON.parse(entry?.args ?? '[]') as string[])[0] as string;
      const copied = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => parseCopy(i.args));
      const source = copied
        .flatMap((c) => c.sources.map((s) => ({ s, dest: c.dest, chmod: c.flags.chmod })))
        .find(({ s, dest }) => (dest.endsWith('/') ? join(dest, s.split('/').at(-1) as string) : dest) === entryScript);
      expect(source, `${entryScript} is copied into the final stage`).toBeDefined();
      expect(source?.chmod).toBe('0755');
    },
  );

  it.each(DOCKERFILES)(
    '$name: no compiler, package manager or build tool in the final stage, nor in the scripts it runs',
    ({ path }) => {
      const runtime = parseDockerfile(path).at(-1) as Stage;
      const copied = runtime.instructions
        .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
        .flatMap((i) => parseCopy(i.args).sources);
      for (const run of runtime.instructions.filter((i) => i.keyword === 'RUN')) {
        const command = commandOf(run.args);
        expect(buildToolsIn(command), `the final stage runs ${command}`).toEqual([]);
        // Each script it runs: what it installs, and that it installs no build tool.
        for (const [, script] of command.matchAll(/\/tmp\/keymint-setup\/([\w.-]+\.sh)/g)) {
          const repoPath = copied.find((s) => s.endsWith(`/${script as string}`)) as string;
          expect(repoPath, `${script as string} is copied in`).toBeDefined();
          const text = readFileSync(join(REPO, repoPath), 'utf8');
          for (const [, packages] of text.matchAll(/apt-get install[^\n]*?((?:\s+[a-z0-9][\w.+-]*)+)\s*$/gm)) {
            const names = (packages as string).trim().split(/\s+/);
            expect(buildToolsIn(names.join(' ')), `${repoPath} installs ${names.join(' ')}`).toEqual([]);
            expect(text).toMatch(/--no-install-recommends/);
          }
          expect(text, `${repoPath} installs nothing from npm`).not.toMatch(/\b(npm|pnpm|yarn) (install|add|i)\b/);
        }
      }
      // What prepare-runtime.sh removes: the package managers node:20-slim ships.
      expect(readFileSync(join(DOCKER, 'cli', 'prepare-runtime.sh'), 'utf8')).toMatch(/node_modules\/npm.*corepack/s);
    },
  );

  it.each(DOCKERFILES)(
    '$name: every file it copies from the context exists, scripts are executable and parse; a .dockerignore keeps host builds out',
    ({ path }) => {
      for (const stage of parseDockerfile(path)) {
        for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY').map((i) => parseCopy(i.args))) {
          if (copy.flags.from !== undefined) continue;
          for (const source of copy.sources) {
            expect(existsSync(join(REPO, source)), `${source} exists`).toBe(true);
            if (source.endsWith('.sh')) {
              expect(statSync(join(REPO, source)).mode & 0o111, `${source} is executable`).not.toBe(0);
              expect(spawnSync('sh', ['-n', join(REPO, source)]).status, `${source} parses`).toBe(0);
            }
          }
        }
      }
      const ignore = readFileSync(`${path}.dockerignore`, 'utf8').split('\n');
      for (const pattern of ['**/node_modules', '**/dist', '.git']) expect(ignore).toContain(pattern);
    },
  );

  it('every script in docker/ is POSIX sh with set -eu, and parses', () => {
    const scripts = readdirSync(DOCKER, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('.sh'));
    expect(scripts.sort()).toEqual([
      'cli/build.sh',
      'cli/entrypoint.sh',
      'cli/prepare-runtime.sh',
      'softhsm/entrypoint.sh',
      'softhsm/init-token.sh',
      'softhsm/install-softhsm.sh',
    ]);
    for (const script of scripts) {
      const text = readFileSync(join(DOCKER, script), 'utf8');
      expect(text.startsWith('#!/bin/sh\n'), script).toBe(true);
      expect(text, script).toMatch(/^set -eu$/m);
      const dash = spawnSync('dash', ['-n', join(DOCKER, script)]);
      if (dash.error === undefined) expect(dash.status, `${script} parses in dash`).toBe(0);
    }
  });

  it('compose.yaml: the CLI and the HSM playground, built from the repository root with these Dockerfiles', () => {
    const text = readFileSync(join(DOCKER, 'compose.yaml'), 'utf8');
    const services = text.slice(text.indexOf('\nservices:\n'), text.search(/\n(volumes|secrets):\n/));
    for (const [service, dockerfile] of [
      ['keymint', 'docker/cli/Dockerfile'],
      ['hsm', 'docker/softhsm/Dockerfile'],
    ] as const) {
      const block = new RegExp(`^  ${service}:\\n((?: {4,}.*\\n|\\s*#.*\\n)+)`, 'm').exec(services)?.[1] ?? '';
      expect(block, `service ${service}`).toMatch(/^ {6}context: \.\.$/m);
      expect(block).toContain(`dockerfile: ${dockerfile}`);
      expect(existsSync(join(REPO, dockerfile))).toBe(true);
      expect(block).toMatch(/- keys:\/keys/);
    }
    expect(text).toMatch(/^volumes:\n {2}keys:\n {2}softhsm:\n?$/m);
    expect(text).toMatch(/- softhsm:\/var\/lib\/keymint-softhsm/);
    expect(text).not.toMatch(/^\t/m);
  });
});

// ---- docker/cli/build.sh -----------------------------------------------------------------------

/** Copies the repository as `docker build` would send it: without what Dockerfile.dockerignore lists. */
function copyContext(to: string): void {
  const patterns = readFileSync(join(DOCKER, 'cli', 'Dockerfile.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const ignored = (rel: string) =>
    patterns.some((pattern) => {
      if (pattern.startsWith('**/')) {
        const tail = pattern.slice(3);
        const base = rel.split('/').at(-1) as string;
        return tail.startsWith('*.') ? base.endsWith(tail.slice(1)) : base === tail;
      }
      return rel === pattern || rel.startsWith(`${pattern}/`);
    });
  cpSync(REPO, to, { recursive: true, filter: (source) => source === REPO || !ignored(relative(REPO, source)) });
}

/** Every symbolic link under `dir` points inside it (the prefix is copied whole into the image). */
function linksOutside(dir: string): string[] {
  const outside: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isSymbolicLink()) continue;
    const link = join(entry.parentPath, entry.name);
    const target = resolve(dirname(link), readlinkSync(link));
    if (relative(dir, target).startsWith('..')) outside.push(`${link} -> ${target}`);
  }
  return outside;
}

describe('docker/cli/build.sh, prepare-runtime.sh and entrypoint.sh, run outside Docker', () => {
  const src = join(root, 'src');
  let prefix = join(root, 'opt', 'keymint');
  let build: Ran;

  beforeAll(() => {
    copyContext(src);
    build = sh(join(src, 'docker', 'cli', 'build.sh'), [prefix], { cwd: src, timeout: 280_000 });
  }, 300_000);

  it('builds keymint into the prefix: a launcher and the CLI with its production dependencies only', () => {
    ok(build, 'build.sh');
    expect(existsSync(join(src, 'node_modules')), 'the context had no node_modules: build.sh installed them').toBe(
      true,
    );
    expect(statSync(join(prefix, 'bin', 'keymint')).mode & 0o111).not.toBe(0);
    const lib = join(prefix, 'lib', 'keymint');
    expect(readJson<{ name: string }>(join(lib, 'package.json')).name).toBe('@keymint/cli');
    const installed = readdirSync(join(lib, 'node_modules', '.pnpm'));
    for (const dev of ['vitest', 'vite', 'fast-check', 'typescript', 'turbo', 'pnpm', '@types+node', 'esbuild']) {
      expect(
        installed.filter((name) => name.startsWith(`${dev}@`)),
        `${dev} is not installed`,
      ).toEqual([]);
    }
    for (const runtime of ['commander', 'jose', 'graphene-pk11', 'pkcs11js', '@napi-rs+keyring']) {
      expect(
        installed.some((name) => name.startsWith(`${runtime}@`)),
        `${runtime} is installed`,
      ).toBe(true);
    }
    const addon = readdirSync(join(lib, 'node_modules', '.pnpm'), { recursive: true, encoding: 'utf8' }).filter((p) =>
      p.endsWith('pkcs11.node'),
    );
    expect(addon.length, 'the native PKCS#11 addon was built').toBeGreaterThan(0);
    expect(linksOutside(prefix), 'nothing in the prefix points outside it').toEqual([]);
  });

  it('the installed keymint runs without the source tree, moved elsewhere and through a link', () => {
    rmSync(src, { recursive: true, force: true });
    const moved = join(root, 'elsewhere', 'keymint');
    mkdirSync(dirname(moved), { recursive: true });
    renameSync(prefix, moved);
    prefix = moved;
    const version = readJson<{ version: string }>(join(REPO, 'apps', 'cli', 'package.json')).version;
    const direct = tool(join(prefix, 'bin', 'keymint'), ['--version']);
    expect(direct.stdout.trim(), direct.stderr).toBe(version);
    symlinkSync(join(prefix, 'bin', 'keymint'), join(root, 'keymint-link'));
    expect(tool(join(root, 'keymint-link'), ['--version']).stdout.trim()).toBe(version);
  });

  it('entrypoint.sh runs keymint: --version, create, and a Docker secret as the password file', async () => {
    const work = fresh('entry-work');
    const env = { KEYMINT_HOME: prefix, KEYMINT_SECRETS_DIR: join(root, 'no-secrets') };
    const entry = join(DOCKER, 'cli', 'entrypoint.sh');
    expect(ok(sh(entry, ['--version'], { env }), 'entrypoint --version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    ok(
      sh(entry, ['create', '--no-password', '--insecure', '--kty', 'OKP', '--crv', 'Ed25519', 'k.pub.json', 'k.json'], {
        cwd: work,
        env,
      }),
      'create',
    );
    expectKeyPair(readJson<Jwk>(join(work, 'k.json')), readJson<Jwk>(join(work, 'k.pub.json')));

    // /run/secrets/keymint_password: create takes it as --password-file; other commands find it
    // through KEYMINT_PASSWORD_FILE, which the entry point sets.
    const secrets = fresh('secrets');
    writeFileSync(join(secrets, 'keymint_password'), `${PASSWORD}\n`, { mode: 0o600 });
    const withSecret = { ...env, KEYMINT_SECRETS_DIR: secrets };
    ok(
      sh(
        entry,
        [
          'create',
          '--password-file',
          join(secrets, 'keymint_password'),
          '--pbes2-count',
          '1000',
          'e.pub.json',
          'e.json',
        ],
        { cwd: work, env: withSecret },
      ),
      'create with the secret',
    );
    expectKeyPair(await decryptWithJose(join(work, 'e.json'), PASSWORD), readJson<Jwk>(join(work, 'e.pub.json')));
    const pub = ok(sh(entry, ['public', 'e.json'], { cwd: work, env: withSecret }), 'public with the secret');
    expect(JSON.parse(pub.stdout)).toEqual(readJson(join(work, 'e.pub.json')));
    // Without the secret there is no password, and no terminal to ask on.
    expect(sh(entry, ['public', 'e.json'], { cwd: work, env }).status).toBe(2);
    // A KEYMINT_PASSWORD_FILE already set wins over the secret.
    writeFileSync(join(work, 'other.txt'), 'not the password\n');
    expect(
      sh(entry, ['public', 'e.json'], {
        cwd: work,
        env: { ...withSecret, KEYMINT_PASSWORD_FILE: join(work, 'other.txt') },
      }).status,
    ).toBe(6);
  });

  it('build.sh wants one prefix, and never installs over a keymint', () => {
    const script = join(DOCKER, 'cli', 'build.sh');
    expect(sh(script, []).status).toBe(2);
    const again = sh(script, [prefix]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already holds a keymint/);
  });

  it('prepare-runtime.sh removes the package managers of node:20-slim and makes /keys for the node user', () => {
    const fake = fresh('rootfs');
    const files = [
      'usr/local/bin/node',
      'usr/local/bin/npm',
      'usr/local/bin/npx',
      'usr/local/bin/corepack',
      'usr/local/bin/yarn',
      'usr/local/bin/yarnpkg',
      'usr/local/lib/node_modules/npm/package.json',
      'usr/local/lib/node_modules/corepack/package.json',
      'opt/yarn-v1.22.22/bin/yarn',
      'usr/lib/x86_64-linux-gnu/libc.so.6',
    ];
    for (const file of files) {
      mkdirSync(join(fake, dirname(file)), { recursive: true });
      writeFileSync(join(fake, file), 'x');
    }
    mkdirSync(join(fake, 'etc'));
    writeFileSync(
      join(fake, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/bash\n',
    );
    ok(sh(join(DOCKER, 'cli', 'prepare-runtime.sh'), [fake]), 'prepare-runtime.sh');
    const left = readdirSync(fake, { recursive: true, encoding: 'utf8' }).filter((p) =>
      statSync(join(fake, p)).isFile(),
    );
    expect(left.sort()).toEqual(['etc/passwd', 'usr/lib/x86_64-linux-gnu/libc.so.6', 'usr/local/bin/node']);
    const keys = statSync(join(fake, 'keys'));
    expect(keys.mode & 0o777).toBe(0o700);
    if (process.getuid?.() === 0) expect([keys.uid, keys.gid]).toEqual([1000, 1000]);
  });
});

// ---- docker/softhsm ----------------------------------------------------------------------------

/** A PATH with a softhsm2-util that logs its arguments, then runs the real one. */
function loggingPath(): { path: string; log: string } {
  const bin = fresh(`logbin-${Math.random().toString(16).slice(2)}`);
  const log = join(bin, 'argv.log');
  writeFileSync(
    join(bin, 'softhsm2-util'),
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec /usr/bin/softhsm2-util "$@"\n`,
  );
  chmodSync(join(bin, 'softhsm2-util'), 0o755);
  // keymint for the entry point: the built CLI of this checkout.
  writeFileSync(join(bin, 'keymint'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  chmodSync(join(bin, 'keymint'), 0o755);
  return { path: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, log };
}

function labels(conf: string): string[] {
  const slots = ok(
    tool('softhsm2-util', ['--show-slots'], { SOFTHSM2_CONF: conf }),
    'softhsm2-util --show-slots',
  ).stdout;
  return [...slots.matchAll(/^\s*Label:\s*(\S.*?)\s*$/gm)].map((m) => m[1] as string);
}

describe('docker/softhsm/init-token.sh and entrypoint.sh, run outside Docker', () => {
  const init = join(DOCKER, 'softhsm', 'init-token.sh');

  it('makes a token from PIN files, without a PIN in any argument or output; pkcs11-tool and keymint use it', () => {
    const home = fresh('hsm-files');
    const pins = fresh('pins');
    const pin = `user-${Math.random().toString(36).slice(2)}`;
    const soPin = `so-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(pins, 'pin'), `${pin}\n`, { mode: 0o600 });
    writeFileSync(join(pins, 'so-pin'), `${soPin}\n`, { mode: 0o600 });
    const { path, log } = loggingPath();
    const env = {
      SOFTHSM_HOME: home,
      SOFTHSM_LABEL: 'playground',
      SOFTHSM_PIN_FILE: join(pins, 'pin'),
      SOFTHSM_SO_PIN_FILE: join(pins, 'so-pin'),
      PATH: path,
    };
    const first = ok(sh(init, [], { env }), 'init-token.sh');
    expect(first.stderr).toMatch(/SoftHSM token "playground" initialised/);

    const conf = join(home, 'softhsm2.conf');
    expect(labels(conf)).toContain('playground');
    const listed = ok(tool('pkcs11-tool', ['--module', MODULE, '-L'], { SOFTHSM2_CONF: conf }), 'pkcs11-tool -L');
    expect(listed.stdout).toMatch(/token label\s*: playground/);
    expect(listed.stdout).toMatch(/PIN initialized/);
    // The PINs are the ones in the files: pkcs11-tool logs in with the user PIN.
    ok(
      tool('pkcs11-tool', ['--module', MODULE, '--token-label', 'playground', '--login', '--pin', pin, '-O'], {
        SOFTHSM2_CONF: conf,
      }),
      'login with the user PIN',
    );
    expect(
      tool('pkcs11-tool', ['--module', MODULE, '--token-label', 'playground', '--login', '--pin', soPin, '-O'], {
        SOFTHSM2_CONF: conf,
      }).status,
    ).not.toBe(0);

    const argv = readFileSync(log, 'utf8');
    expect(argv).toMatch(/--init-token --free --label playground/);
    for (const secret of [pin, soPin]) {
      expect(argv, 'no PIN in the arguments of softhsm2-util').not.toContain(secret);
      expect(first.stdout + first.stderr, 'no PIN in the output').not.toContain(secret);
    }
    expect(readdirSync(home).sort(), 'no PIN file written: the given ones are used').toEqual([
      'softhsm2.conf',
      'tokens',
    ]);

    // keymint makes a key on it, with the PIN from the same file.
    const work = fresh('hsm-files-work');
    const made = spawnSync(
      process.execPath,
      [
        BIN,
        'create',
        '--backend',
        'pkcs11',
        '--pkcs11-uri',
        `pkcs11:token=playground?module-path=${MODULE}&pin-source=file:${join(pins, 'pin')}`,
        'k.pub.json',
        'k.json',
      ],
      {
        cwd: work,
        env: { ...process.env, SOFTHSM2_CONF: conf },
        encoding: 'utf8',
      },
    );
    expect(made.status, made.stderr).toBe(0);
    expect(readJson<{ backend: string }>(join(work, 'k.json')).backend).toBe('pkcs11');

    // A second run finds the token and leaves it (and its key) alone.
    const second = ok(sh(init, [], { env }), 'init-token.sh again');
    expect(second.stderr).toMatch(/is ready/);
    expect(labels(conf).filter((l) => l === 'playground')).toHaveLength(1);
    expect(
      ok(
        tool('pkcs11-tool', ['--module', MODULE, '--token-label', 'playground', '--login', '--pin', pin, '-O'], {
          SOFTHSM2_CONF: conf,
        }),
        'objects',
      ).stdout,
    ).toMatch(/Private Key Object/);
  });

  it('without PINs, makes random ones in 0600 files; SOFTHSM_PIN is written to a 0600 file, not printed', () => {
    const home = fresh('hsm-random');
    const { path, log } = loggingPath();
    const ran = ok(sh(init, [], { env: { SOFTHSM_HOME: home, PATH: path } }), 'init-token.sh');
    for (const file of ['user.pin', 'so.pin']) {
      expect(statSync(join(home, file)).mode & 0o777, file).toBe(0o600);
      const value = readFileSync(join(home, file), 'utf8').trim();
      expect(value).toMatch(/^[0-9a-f]{24}$/);
      expect(ran.stderr + ran.stdout).not.toContain(value);
      expect(readFileSync(log, 'utf8')).not.toContain(value);
    }
    expect(labels(join(home, 'softhsm2.conf'))).toContain('keymint');
    expect(readFileSync(join(home, 'user.pin'), 'utf8')).not.toBe(readFileSync(join(home, 'so.pin'), 'utf8'));

    const given = fresh('hsm-env');
    const envPin = `env-pin-${Math.random().toString(36).slice(2)}`;
    const withEnv = ok(
      sh(init, [], { env: { SOFTHSM_HOME: given, SOFTHSM_LABEL: 'from-env', SOFTHSM_PIN: envPin, PATH: path } }),
      'init-token.sh with SOFTHSM_PIN',
    );
    expect(withEnv.stderr).not.toContain(envPin);
    expect(readFileSync(join(given, 'user.pin'), 'utf8')).toBe(`${envPin}\n`);
    expect(statSync(join(given, 'user.pin')).mode & 0o777).toBe(0o600);
    expect(readFileSync(log, 'utf8')).not.toContain(envPin);
    ok(
      tool('pkcs11-tool', ['--module', MODULE, '--token-label', 'from-env', '--login', '--pin', envPin, '-O'], {
        SOFTHSM2_CONF: join(given, 'softhsm2.conf'),
      }),
      'login with SOFTHSM_PIN',
    );
  });

  it('refuses a label it would have to quote, a PIN SoftHSM refuses, and a missing PIN file', () => {
    const home = fresh('hsm-bad');
    for (const [env, message] of [
      [{ SOFTHSM_LABEL: 'my token' }, /SOFTHSM_LABEL "my token" must be/],
      [{ SOFTHSM_LABEL: "it's" }, /must be letters/],
      [{ SOFTHSM_LABEL: 'x'.repeat(33) }, /longer than the 32 characters/],
      [{ SOFTHSM_PIN: '123' }, /4 to 255 characters/],
      [{ SOFTHSM_PIN_FILE: join(home, 'missing') }, /PIN file .* is missing or empty/],
    ] as const) {
      const ran = sh(init, [], { env: { SOFTHSM_HOME: home, ...env } });
      expect(ran.status).toBe(2);
      expect(ran.stderr).toMatch(message);
    }
    expect(labels(join(home, 'softhsm2.conf')).filter((l) => l !== '')).toEqual([]);
  });

  it('entrypoint.sh makes the token, points keymint at it and runs the command: create needs no flag', () => {
    const home = fresh('hsm-entry');
    const work = fresh('hsm-entry-work');
    const { path } = loggingPath();
    const entry = join(DOCKER, 'softhsm', 'entrypoint.sh');
    const env = {
      SOFTHSM_HOME: home,
      SOFTHSM_LABEL: 'playground',
      PATH: path,
      KEYMINT_PKCS11_URI: '',
      SOFTHSM2_CONF: '',
    };

    const tokens = ok(
      sh(entry, ['keymint', 'keys', 'describe', '--backend', 'pkcs11', '--json'], { cwd: work, env }),
      'entrypoint keymint keys describe',
    );
    expect(tokens.stdout).toContain('"playground"');
    const byDefault = ok(sh(entry, [], { cwd: work, env }), 'entrypoint with no command');
    expect(byDefault.stdout).toMatch(/playground/);

    ok(
      sh(entry, ['keymint', 'create', '--backend', 'pkcs11', '--kty', 'EC', '--crv', 'P-384', 'k.pub.json', 'k.json'], {
        cwd: work,
        env,
      }),
      'create on the token',
    );
    const reference = readJson<{ location: { uri: string } }>(join(work, 'k.json'));
    expect(reference.location.uri).toMatch(/^pkcs11:token=playground;/);
    writeFileSync(join(work, 'payload.txt'), 'signed on the token');
    const signed = ok(
      sh(entry, ['keymint', 'sign', '--key', 'k.json', 'payload.txt'], { cwd: work, env }),
      'sign on the token',
    );
    expect(signed.stdout.split('.')).toHaveLength(3);

    const pin = readFileSync(join(home, 'user.pin'), 'utf8').trim();
    const shown = ok(
      sh(entry, ['sh', '-c', 'echo "$KEYMINT_PKCS11_URI|$SOFTHSM2_CONF"'], { cwd: work, env }),
      'the environment',
    );
    expect(shown.stdout.trim()).toBe(
      `pkcs11:token=playground?module-path=${MODULE}&pin-source=file:${join(home, 'user.pin')}|${join(home, 'softhsm2.conf')}`,
    );
    for (const ran of [tokens, byDefault, signed, shown]) expect(ran.stdout + ran.stderr).not.toContain(pin);
    expect(lstatSync(join(home, 'user.pin')).mode & 0o777).toBe(0o600);
    expect(realpathSync(home)).toBe(home);
  });
});
