import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/*
 * Who wrote a lock or temp file, as far as another keymint can tell. A pid means something only on
 * the host, boot and PID namespace that issued it (a shared disk, a restart, containers with the
 * host's name), and even there only together with the process's start time (pids are reused).
 * Internal: used by files.ts and keyset.ts, not part of the package's API.
 */

function readSmall(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

let boot: string | undefined | null = null;
let namespace: string | undefined | null = null;

/** This boot of this machine (Linux: /proc/sys/kernel/random/boot_id); undefined elsewhere. */
export function bootId(): string | undefined {
  if (boot === null) boot = readSmall('/proc/sys/kernel/random/boot_id');
  return boot;
}

/** The PID namespace this process lives in (Linux: "pid:[4026531836]"); undefined elsewhere. */
export function pidNamespace(): string | undefined {
  if (namespace === null) {
    try {
      namespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      namespace = undefined;
    }
  }
  return namespace;
}

/**
 * When process `pid` started, in clock ticks after boot (field 22 of /proc/<pid>/stat), as a
 * string; undefined when there is no such process or no /proc. Two processes that had the same pid
 * one after the other have different start times.
 */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const stat = readSmall(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Field 2, the command name, is in parentheses and may itself hold spaces and ")": the fields
  // from 3 on follow the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[22 - 3];
}

/** Whether a process with this pid exists here (in this PID namespace), whoever owns it. */
export function processExists(pid: number): boolean {
  // 0 and negative numbers name process groups for kill(): never a writer.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let tag: string | undefined;

/**
 * 8 hex digits naming this host and PID namespace, for temp file names: another keymint judges the
 * pid in a name only when the name carries its own tag (not on another host sharing the disk, not
 * from another container). The boot is left out on purpose: after a crash and a restart, the temps
 * of the killed writers must still be recognised as this host's, and their pids are then gone.
 */
export function hostTag(): string {
  tag ??= createHash('sha256')
    .update(`${hostname()}\0${pidNamespace() ?? ''}`)
    .digest('hex')
    .slice(0, 8);
  return tag;
}
