import { useKeyring } from '@keymint/test-kit';

// Every test file talks to the run's private keyring unless it sets its own bus before first use
// (libdbus reads the bus address once per process, and each test file has its own process).
useKeyring();
