import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** Field 22 of /proc/<pid>/stat: the process's start time in clock ticks after boot, read independently of keymint. */
export function processStartTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
}

/** The pid of a process that has exited (so no process has it, unless the system reused it). */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

/**
 * A lock file's content as keymint writes it for process `pid` of this host (start time "1" when
 * the process is gone); `other` overrides members.
 * @example writeFileSync(`${path}.lock`, lockFor(process.ppid, { start: '1' })) // a reused pid
 */
export function lockFor(pid: number, other: Record<string, unknown> = {}): string {
  return JSON.stringify({
    pid,
    host: hostname(),
    boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    pidns: readlinkSync('/proc/self/ns/pid'),
    start: existsSync(`/proc/${pid}`) ? processStartTime(pid) : '1',
    since: '2026-01-01T00:00:00Z',
    token: 'feedfacecafebeef',
    ...other,
  });
}
