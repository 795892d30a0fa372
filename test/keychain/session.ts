import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, runProgram, type RunResult } from '../helpers.js';

/** The environment a keymint run needs to reach the test keyring. */
export interface KeyringEnv {
  DBUS_SESSION_BUS_ADDRESS: string;
  XDG_RUNTIME_DIR: string;
  XDG_DATA_HOME: string;
}

export interface KeyringSession {
  env: KeyringEnv;
  /** Locks the login collection: reading needs an unlock prompt, which cannot be shown here. */
  lock(): void;
  stop(): Promise<void>;
}

/** A service name of its own per test: the kernel keyring outlives a run (root's persistent keyring). */
export function uniqueService(what: string): string {
  return `keymint-e2e-${what}-${randomBytes(4).toString('hex')}`;
}

/** Runs a tool (secret-tool, keyctl, dbus-send) with extra environment; returns what it did. */
export function run(command: string, args: readonly string[], env: Record<string, string> = {}, input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, [...args], { env: { ...process.env, ...env }, input, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function waitFor(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * A private D-Bus session bus with an unlocked GNOME Keyring, in a temp dir (REFERENCE §6):
 * `dbus-daemon --session --nofork --print-address` on a socket in a 0700 XDG_RUNTIME_DIR, and
 * `gnome-keyring-daemon --foreground --unlock --components=secrets` reading the password on
 * stdin. Both are this process's children and are stopped by PID.
 */
export async function startKeyringSession(): Promise<KeyringSession> {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-e2e-keyring-'));
  const runtime = join(dir, 'run');
  mkdirSync(runtime, { mode: 0o700 });
  mkdirSync(join(dir, 'data'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1', `--address=unix:path=${join(runtime, 'bus')}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(bus);
    const address = await new Promise<string>((resolve, reject) => {
      let text = '';
      bus.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('\n')) resolve(text.split('\n')[0]?.trim() ?? '');
      });
      bus.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${String(code)}`)));
    });
    const env: KeyringEnv = { DBUS_SESSION_BUS_ADDRESS: address, XDG_RUNTIME_DIR: runtime, XDG_DATA_HOME: join(dir, 'data') };
    const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(keyring);
    keyring.stdin?.end('keymint-e2e');
    const dbusSend = (args: string[]) => run('dbus-send', ['--session', '--print-reply', ...args], { ...env });
    // Wait for our daemon to own the name before asking it anything: asking earlier would make
    // the bus start another, locked, keyring from its service file.
    await waitFor(() => dbusSend(['--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets']).stdout.includes('boolean true'), 'gnome-keyring-daemon');
    await waitFor(
      () => dbusSend(['--dest=org.freedesktop.secrets', '/org/freedesktop/secrets/aliases/default', 'org.freedesktop.DBus.Properties.Get', 'string:org.freedesktop.Secret.Collection', 'string:Locked']).stdout.includes('boolean false'),
      'an unlocked login keyring',
    );
    return {
      env,
      lock() {
        const result = dbusSend(['--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login']);
        if (result.status !== 0) throw new Error(`could not lock the keyring: ${result.stderr}`);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface KeyutilsRing {
  /** Runs the built keymint in the ring, as a user's login session would. */
  keymint(args: readonly string[], options: { cwd: string; env?: Record<string, string> }): Promise<RunResult>;
  /** Runs keyctl in the ring: an independent look at the kernel keyring. */
  keyctl(args: readonly string[]): { status: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

const JOINED = /^Joined session keyring: \d+\n/m;

/**
 * A fresh, named session keyring that every keymint run of a test joins (`keyctl session NAME`),
 * kept alive by a holder process for as long as the test needs it. The holder lets processes of
 * the same user find the ring by name (setperm); it is stopped by PID.
 */
export async function startKeyutilsRing(): Promise<KeyutilsRing> {
  const name = `keymint-e2e-${randomBytes(6).toString('hex')}`;
  const holder = spawn('keyctl', ['session', name, 'sh', '-c', 'keyctl setperm @s 0x3f3f0000 && echo ready && exec sleep 3600'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString('utf8').includes('ready')) resolve();
    });
    holder.once('exit', (code) => reject(new Error(`keyctl session exited with ${String(code)}`)));
  });
  return {
    async keymint(args, options) {
      const result = await runProgram('keyctl', ['session', name, process.execPath, BIN, ...args], { cwd: options.cwd, ...(options.env === undefined ? {} : { env: options.env }) });
      // keyctl says which ring it joined on stderr: not keymint's output.
      return { ...result, stderr: result.stderr.replace(JOINED, '') };
    },
    keyctl(args) {
      const result = run('keyctl', ['session', name, 'keyctl', ...args]);
      return { ...result, stderr: result.stderr.replace(JOINED, '') };
    },
    stop: () => stopChild(holder),
  };
}
