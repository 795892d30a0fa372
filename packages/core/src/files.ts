import { randomBytes } from 'node:crypto';
import { constants as fsConstants, linkSync, renameSync } from 'node:fs';
import { link, lstat, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCode, KeymintError } from './errors.js';

/** Private key files: owner read/write only, whatever the umask. */
export const PRIVATE_FILE_MODE = 0o600;
/** Public key files: readable by all. */
export const PUBLIC_FILE_MODE = 0o644;
/** Key files are small; anything larger is refused before it is read. */
export const MAX_INPUT_BYTES = 1024 * 1024;

export interface OutputFile {
  path: string;
  content: string;
  mode: number;
}

export interface WriteOptions {
  /** Replace files that exist. */
  force?: boolean;
}

function ioError(message: string, cause?: unknown): KeymintError {
  return new KeymintError(ErrorCode.IO, message, cause === undefined ? {} : { cause });
}

function describeFsError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${path}: no such file or directory`;
    case 'EACCES':
    case 'EPERM':
      return `${path}: permission denied`;
    case 'EISDIR':
      return `${path}: is a directory, not a file`;
    case 'ENOTDIR':
      return `${path}: a part of the path is not a directory`;
    case 'ENOSPC':
      return `${path}: no space left on the device`;
    case 'EROFS':
      return `${path}: the file system is read-only`;
    default:
      return `${path}: ${code ?? 'cannot be accessed'}`;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks that every output can be written, before anything is: distinct paths, no directory,
 * an existing parent directory, and no existing file unless `force`.
 * @throws KeymintError ERR_USAGE for the same path twice, ERR_FILE_EXISTS, ERR_IO
 */
export async function checkOutputs(paths: readonly string[], options: WriteOptions = {}): Promise<void> {
  const resolved = paths.map((p) => resolve(p));
  if (new Set(resolved).size !== resolved.length) {
    throw new KeymintError(ErrorCode.USAGE, `the output files must be two different files: ${paths.join(' and ')}`);
  }
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(describeFsError(path, error), error);
    }
    if (info?.isDirectory()) throw ioError(`${path}: is a directory: give a file name`);
    if (info !== undefined && !options.force) {
      throw new KeymintError(ErrorCode.FILE_EXISTS, `${path} already exists: keymint does not overwrite files`, { hint: 'use --force to replace it' });
    }
    const parent = dirname(resolve(path));
    try {
      const dir = await stat(parent);
      if (!dir.isDirectory()) throw ioError(`${path}: ${parent} is not a directory`);
    } catch (error) {
      if (error instanceof KeymintError) throw error;
      throw ioError(`${path}: the directory ${parent} does not exist`, error);
    }
  }
}

/** The writer's pid as 8 hex digits, then 12 random ones: a later run can tell whether the writer is gone. */
function tempPathFor(path: string): string {
  const pid = (process.pid >>> 0).toString(16).padStart(8, '0');
  return join(dirname(path), `.${basename(path)}.keymint-${pid}${randomBytes(6).toString('hex')}.tmp`);
}

/** A temp file older than this is left over whoever wrote it: a write takes milliseconds. */
export const STALE_TEMP_MS = 60_000;

/** True when the pid in a temp file's name is a process that no longer exists here. */
function writerGone(hex: string): boolean {
  // Names of 12 hex digits (keymint before the pid was added) say nothing of their writer.
  if (hex.length !== 20) return false;
  const pid = Number.parseInt(hex.slice(0, 8), 16);
  if (!(pid > 0) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes the temp files that interrupted writes of `path` left in its directory
 * (`.<name>.keymint-<hex>.tmp`): those changed more than a minute ago, or whose writer process is
 * gone. Nothing else is touched: not the temp files of other names, not directories or links, not
 * files of other users. Best effort: it never throws.
 * @returns the paths removed
 * @example await removeStaleTemps('key.json'); // after a killed `keymint create`
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(resolve(path));
  const prefix = `.${basename(path)}.keymint-`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const hex = name.slice(prefix.length, -'.tmp'.length);
    if (!/^(?:[0-9a-f]{12}|[0-9a-f]{20})$/.test(hex)) continue;
    const temp = join(dir, name);
    try {
      const info = await lstat(temp);
      if (!info.isFile() || (process.getuid !== undefined && info.uid !== process.getuid())) continue;
      // ctime, not mtime: a backup is a hard link of the old file, whose mtime may be years old.
      if (Date.now() - info.ctimeMs < STALE_TEMP_MS && !writerGone(hex)) continue;
      await unlink(temp);
      removed.push(temp);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

async function writeTemp(file: OutputFile): Promise<string> {
  const temp = tempPathFor(file.path);
  let handle;
  try {
    handle = await open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, file.mode);
  } catch (error) {
    throw ioError(describeFsError(file.path, error), error);
  }
  try {
    // chmod after open: the mode given to open() is narrowed by the umask.
    await handle.chmod(file.mode);
    await handle.writeFile(file.content, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw ioError(describeFsError(file.path, error), error);
  }
  await handle.close();
  return temp;
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, fsConstants.O_RDONLY);
    await handle.sync().finally(() => handle.close());
  } catch {
    // Some file systems cannot fsync a directory; the rename itself is still atomic.
  }
}

/** link() fails if the name exists, so a file that appeared since the check survives. */
function linkNew(temp: string, path: string): void {
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KeymintError(ErrorCode.FILE_EXISTS, `${path} already exists: keymint does not overwrite files`, { hint: 'use --force to replace it' });
    }
    throw error;
  }
}

/**
 * Writes several files as one change: each goes to a temporary file in its own directory, is
 * fsynced, then renamed into place in the order given. An error at any step removes what this
 * call created and puts back what it replaced, so nothing half-written is ever left behind.
 * Without `force`, an existing file is never replaced, even one that appears meanwhile. After a
 * successful write, stale temp files of the same names are removed (see `removeStaleTemps`).
 * @throws KeymintError ERR_FILE_EXISTS, ERR_IO, ERR_USAGE
 * @example await writeFilesAtomically([{ path: 'key.json', content, mode: PRIVATE_FILE_MODE }]);
 */
export async function writeFilesAtomically(files: readonly OutputFile[], options: WriteOptions = {}): Promise<void> {
  await checkOutputs(files.map((f) => f.path), options);
  const temps: string[] = [];
  const backups: (string | undefined)[] = [];
  const done: { path: string; backup: string | undefined }[] = [];
  try {
    for (const file of files) temps.push(await writeTemp(file));
    if (options.force) {
      for (const file of files) {
        const backup = (await exists(file.path)) ? tempPathFor(file.path) : undefined;
        if (backup !== undefined) await link(file.path, backup);
        backups.push(backup);
      }
    }
    // Everything that can be prepared is: the files now go into place synchronously, back to
    // back, so a process killed at a random moment almost never leaves half of a key pair new.
    for (const [i, file] of files.entries()) {
      const temp = temps[i] as string;
      if (options.force) renameSync(temp, file.path);
      else linkNew(temp, file.path);
      done.push({ path: file.path, backup: backups[i] });
    }
    if (!options.force) for (const temp of temps) await unlink(temp).catch(() => undefined);
  } catch (error) {
    for (const { path, backup } of done.reverse()) {
      if (backup !== undefined) await rename(backup, path).catch(() => undefined);
      else await unlink(path).catch(() => undefined);
    }
    for (const backup of backups.slice(done.length)) if (backup !== undefined) await unlink(backup).catch(() => undefined);
    for (const temp of temps) await unlink(temp).catch(() => undefined);
    if (error instanceof KeymintError) throw error;
    throw ioError(describeFsError(files[done.length]?.path ?? files[0]?.path ?? '', error), error);
  }
  for (const { backup } of done) if (backup !== undefined) await unlink(backup).catch(() => undefined);
  // What a killed earlier write of these files left behind (backups hold the old private key).
  for (const file of files) await removeStaleTemps(file.path);
  for (const dir of new Set(files.map((f) => dirname(resolve(f.path))))) await syncDirectory(dir);
}

function tooLarge(what: string, where: string, maxBytes: number): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, `${what} ${where} is larger than the ${maxBytes} bytes keymint reads`);
}

/**
 * Reads a file as bytes, or standard input for "-", refusing anything over `maxBytes` without
 * reading it all: the size is checked before reading and again while reading (it may grow).
 * @throws KeymintError ERR_IO naming the file and what went wrong; ERR_INPUT_INVALID when too large
 */
export async function readInputBytes(path: string, what = 'file', maxBytes = MAX_INPUT_BYTES): Promise<Buffer> {
  if (path === '-') return readStream(process.stdin, what, 'on standard input', maxBytes);
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw ioError(`${what} ${describeFsError(path, error)}`, error);
  }
  if (info.isDirectory()) throw ioError(`${what} ${path}: is a directory, not a file`);
  if (info.isFile() && info.size > maxBytes) throw tooLarge(what, `${path} (${info.size} bytes)`, maxBytes);
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw ioError(`${what} ${describeFsError(path, error)}`, error);
  }
  try {
    return await readStream(handle.createReadStream({ autoClose: false }), what, path, maxBytes);
  } catch (error) {
    if (error instanceof KeymintError) throw error;
    throw ioError(`${what} ${describeFsError(path, error)}`, error);
  } finally {
    await handle.close();
  }
}

async function readStream(stream: AsyncIterable<unknown>, what: string, where: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    length += buffer.length;
    if (length > maxBytes) throw tooLarge(what, where, maxBytes);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads a small text file (a key, a PEM, a password), or standard input for "-".
 * @throws KeymintError ERR_IO naming the file and what went wrong; ERR_INPUT_INVALID when too large
 * @example const text = await readInput('key.json', 'key file');
 */
export async function readInput(path: string, what = 'file', maxBytes = MAX_INPUT_BYTES): Promise<string> {
  return (await readInputBytes(path, what, maxBytes)).toString('utf8');
}

/**
 * Reads a password file: its content with trailing whitespace and newlines removed (right side
 * only, as step does).
 * @throws KeymintError ERR_IO, or ERR_PARAM_INVALID when the password is empty
 */
export async function readPasswordFile(path: string, flag = '--password-file'): Promise<string> {
  const text = await readInput(path, flag);
  const password = text.replace(/\s+$/u, '');
  if (password.length === 0) throw new KeymintError(ErrorCode.PARAM_INVALID, `${flag} ${path} is empty: it must hold the password`);
  return password;
}
