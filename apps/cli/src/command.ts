import type { Command } from 'commander';
import type { BackendManifest } from '@keymint/core';

/** What a command file gets to register itself: the installed backends, for their flags and help. */
export interface CommandContext {
  /** The manifests of the installed backends, loaded on first call. */
  backends(): Promise<BackendManifest[]>;
}

/** Every command file exports this: it adds its command (flags, help, action) to the program. */
export interface CommandModule {
  register(program: Command, context: CommandContext): void | Promise<void>;
}

/** A repeatable option: each value is added to the list. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export const PASSWORD_FILE_HELP =
  'file holding the password of an encrypted key (else KEYMINT_PASSWORD_FILE, else asked on the terminal)';
