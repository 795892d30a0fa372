import { describe, expect, it } from 'vitest';
import manifest from '@keymint/backend-software/manifest';
import { backendOptions } from '../src/backends.js';

// docs/backends.md: what every factory gets from the CLI besides its own flags.
describe('the options the CLI gives a backend factory', () => {
  it('warn, env and singleOperation: true (one command, then exit); promptSecret unless --json', () => {
    const asking = backendOptions(manifest, { options: {}, noPrompt: false });
    expect(asking.singleOperation).toBe(true);
    expect(asking.env).toBe(process.env);
    expect(typeof asking.warn).toBe('function');
    expect(typeof asking.promptSecret).toBe('function');
    const json = backendOptions(manifest, { options: {}, noPrompt: true });
    expect(json.singleOperation).toBe(true);
    expect(json).not.toHaveProperty('promptSecret');
  });
});
