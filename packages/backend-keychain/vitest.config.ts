import { keymintTestConfig } from '../../vitest.shared.js';

export default keymintTestConfig({
  // A private D-Bus session with an unlocked GNOME Keyring (see README, "Tests").
  globalSetup: ['test/support/global-setup.ts'],
  setupFiles: ['test/support/setup-env.ts'],
  // Each file in its own process: the bus address is read once per process.
  pool: 'forks',
  isolate: true,
});
