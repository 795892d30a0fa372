import { randomBytes } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The environment a process needs to use the session: its bus and the keyring's directories. */
// A type, not an interface: it goes where any environment (a string record) goes.
export type KeyringEnv = {
  DBUS_SESSION_BUS_ADDRESS: string;
  XDG_RUNTIME_DIR: string;
  XDG_DATA_HOME: string;
};

export interface KeyringSession {
  env: KeyringEnv;
  /** Locks the login collection, as a screen lock would: reading then needs a prompt. */
  lock(): void;
  /** Stops the keyring and the bus by their PIDs and removes the directories. */
  stop(): Promise<void>;
}

/** The password of the test keyring: it only guards a temp directory. */
export const KEYRING_PASSWORD = 'keymint-test';

/**
 * A keychain service name that no other test, and no earlier run, uses: the kernel keyring
 * outlives a run (root's persistent keyring), and a Secret Service may be shared.
 * @example uniqueService('exists') // 'keymint-test-exists-1f2e3d4c'
 */
export function uniqueService(what: string, prefix = 'keymint-test'): string {
  return `${prefix}-${what}-${randomBytes(4).toString('hex')}`;
}

function dbusSend(env: KeyringEnv, args: readonly string[]): { ok: boolean; out: string } {
  const result = spawnSync('dbus-send', ['--session', '--print-reply', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { ok: result.status === 0, out: `${result.stdout}${result.stderr}` };
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${what} printed nothing within 10 s`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, end).trim());
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${String(code)} before it started`));
    });
  });
}

async function waitFor(test: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Stops a child process: SIGTERM, then SIGKILL if it is still there after 5 s; resolves once it
 * has exited.
 */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    process.kill(child.pid as number, 'SIGTERM');
  });
}

/**
 * Starts a private D-Bus session bus and an unlocked GNOME Keyring on it, in a temp directory
 * (REFERENCE §6): `dbus-daemon --session` on a socket in a 0700 XDG_RUNTIME_DIR, then
 * `gnome-keyring-daemon --foreground --unlock --components=secrets` reading the password on stdin.
 * Both are children of this process and are stopped by PID.
 */
export async function startKeyringSession(): Promise<KeyringSession> {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-keyring-'));
  const runtime = join(dir, 'run');
  mkdirSync(runtime, { mode: 0o700 });
  mkdirSync(join(dir, 'data'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const address = `--address=unix:path=${join(runtime, 'bus')}`;
    const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1', address], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(bus);
    const env: KeyringEnv = {
      DBUS_SESSION_BUS_ADDRESS: await firstLine(bus, 'dbus-daemon'),
      XDG_RUNTIME_DIR: runtime,
      XDG_DATA_HOME: join(dir, 'data'),
    };
    const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    children.push(keyring);
    keyring.stdin?.end(KEYRING_PASSWORD);
    // Asking org.freedesktop.secrets before it is owned would make the bus start a second,
    // locked keyring from its service file: wait for ours to own the name first.
    await waitFor(
      () =>
        dbusSend(env, [
          '--dest=org.freedesktop.DBus',
          '/org/freedesktop/DBus',
          'org.freedesktop.DBus.NameHasOwner',
          'string:org.freedesktop.secrets',
        ]).out.includes('boolean true'),
      'gnome-keyring-daemon on the session bus',
    );
    await waitFor(
      () =>
        dbusSend(env, [
          '--dest=org.freedesktop.secrets',
          '/org/freedesktop/secrets/aliases/default',
          'org.freedesktop.DBus.Properties.Get',
          'string:org.freedesktop.Secret.Collection',
          'string:Locked',
        ]).out.includes('boolean false'),
      'an unlocked default collection of gnome-keyring',
    );
    return {
      env,
      lock() {
        const result = dbusSend(env, [
          '--dest=org.freedesktop.secrets',
          '/org/freedesktop/secrets',
          'org.freedesktop.Secret.Service.Lock',
          'array:objpath:/org/freedesktop/secrets/collection/login',
        ]);
        if (!result.ok) throw new Error(`could not lock the keyring: ${result.out}`);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A session bus with nothing on it and no service files to start anything from: a machine with
 * D-Bus but without a Secret Service.
 */
export async function startBareBus(): Promise<{ address: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-bare-bus-'));
  const config = join(dir, 'bus.conf');
  writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${join(dir, 'bus')}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`,
  );
  const bus = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const stop = async () => {
    await stopChild(bus);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    return { address: await firstLine(bus, 'dbus-daemon'), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
