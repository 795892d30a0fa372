import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const P11_KIT_CLIENTS = [
  '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so',
  '/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so',
  '/usr/lib/pkcs11/p11-kit-client.so',
];

/** p11-kit's client module (Debian p11-kit-modules): a PKCS#11 module that forwards every call to a p11-kit server. */
export const P11_KIT_CLIENT: string =
  P11_KIT_CLIENTS.find((path) => existsSync(path)) ?? (P11_KIT_CLIENTS[0] as string);

/**
 * A `p11-kit server` forwarding one token of a provider module over a unix socket, as a token is
 * forwarded into a container, or reached as a network HSM is: through a module that only talks
 * to a server.
 */
export interface P11KitServer {
  /** The socket. */
  socket: string;
  /** What a process needs to reach the token through P11_KIT_CLIENT. */
  env: { P11_KIT_SERVER_ADDRESS: string; XDG_RUNTIME_DIR: string };
  /** Starts the server (again); resolves once it listens. */
  start(): Promise<void>;
  /**
   * Kills the server with SIGKILL, and with it the process it forked for each client (they share
   * its process group): a crash, or the network gone. Killing only the server's own process would
   * leave connected clients served.
   */
  kill(): Promise<void>;
  /** Kills it if it runs and removes its directory. */
  stop(): Promise<void>;
}

/**
 * A p11-kit server for `token` of `provider`, with the provider's environment (SOFTHSM2_CONF) in
 * `env`, in a 0700 temp dir of its own that is also the clients' XDG_RUNTIME_DIR. Not started.
 * @example const server = p11KitServer(SOFTHSM_MODULE, 'tok', softhsm.env); await server.start();
 */
export function p11KitServer(provider: string, token: string, env: Record<string, string>): P11KitServer {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-p11kit-'));
  const socket = join(dir, 'p11-kit.sock');
  let server: ChildProcess | undefined;
  let exited: Promise<void> | undefined;

  async function kill(): Promise<void> {
    if (server === undefined || exited === undefined) return;
    try {
      process.kill(-(server.pid as number), 'SIGKILL');
    } catch {
      // Gone already.
    }
    await exited;
    server = undefined;
    rmSync(socket, { force: true });
  }

  return {
    socket,
    env: { P11_KIT_SERVER_ADDRESS: `unix:path=${socket}`, XDG_RUNTIME_DIR: dir },
    async start() {
      if (server !== undefined) throw new Error('the p11-kit server runs already');
      rmSync(socket, { force: true });
      const args = ['server', '-f', '-n', socket, '--provider', provider, `pkcs11:token=${token}`];
      const started = spawn('p11-kit', args, { detached: true, stdio: 'ignore', env: { ...process.env, ...env } });
      server = started;
      let ended = false;
      exited = new Promise((resolve) => {
        const end = () => {
          ended = true;
          resolve();
        };
        started.once('exit', end);
        started.once('error', end);
      });
      for (let i = 0; i < 200 && !existsSync(socket); i++) {
        if (ended) break;
        await sleep(25);
      }
      if (!existsSync(socket)) {
        await kill();
        throw new Error(
          `p11-kit server did not listen on ${socket}: is p11-kit installed (scripts/install-test-tools.sh)?`,
        );
      }
    },
    kill,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
