import type { TestProject } from 'vitest/node';
import { startKeyringSession, type KeyringEnv } from './keyring-session.js';

declare module 'vitest' {
  export interface ProvidedContext {
    keyring: KeyringEnv;
  }
}

/** One headless Secret Service for the whole run; stopped by PID when the run ends. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const session = await startKeyringSession();
  project.provide('keyring', session.env);
  return () => session.stop();
}
