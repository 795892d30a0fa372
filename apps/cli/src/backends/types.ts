import type { BackendFactory } from '@keymint/core';

/** What the CLI gives a backend entry to build factory options: its flags, and a way to ask. */
export interface BackendContext {
  /** The parsed options of the command (commander's camelCase names). */
  options: Record<string, unknown>;
  /** True with --json or when no terminal should be used: fail instead of asking. */
  noPrompt: boolean;
  /** Asks for a secret on the terminal (echo off). */
  promptSecret: (question: string) => Promise<string>;
}

/** A CLI flag a backend adds to the commands that make or use keys. */
export interface BackendFlag {
  flags: string;
  description: string;
  defaultValue?: string;
}

/**
 * How the CLI knows a backend without loading it: its flags, an install hint, and how to turn
 * flags and environment into the options of the backend's factory. The backend package itself is
 * imported only by `load`.
 */
export interface BackendEntry {
  name: string;
  summary: string;
  load: () => Promise<{ default: BackendFactory<never> }>;
  install: string;
  flags: readonly BackendFlag[];
  factoryOptions: (context: BackendContext) => Record<string, unknown> | Promise<Record<string, unknown>>;
}
