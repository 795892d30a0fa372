import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  promises as fsp,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  type BigIntStats,
  type Stats,
} from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCode, KeymintError, message, param } from './errors.js';
import { hostTag, processExists } from './host.js';

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
  /**
   * Checked synchronously right before the first file goes into place, after everything else is
   * prepared: when it returns false nothing is replaced, what was prepared is removed, and the
   * write returns false. For a caller that must prove, at that moment, that it may still write.
   */
  precondition?: () => boolean;
}

export interface CheckOptions extends WriteOptions {
  /**
   * Files the command reads, each with the name the user knows it by (a flag such as
   * "--from-pem"): none of them may be one of the outputs. Undefined and "-" are skipped.
   */
  inputs?: readonly (readonly [path: string | undefined, name: string])[];
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
    case 'ELOOP':
      return `${path}: a symbolic link where keymint expects a file, or a loop of links`;
    default:
      return `${path}: ${code ?? 'cannot be accessed'}`;
  }
}

// The write path (checks, temp files, fsync, renames) uses synchronous calls: a command writes a
// few small files, one after the other, and each await of an fs promise costs a round trip through
// the thread pool. Reads of inputs stay asynchronous and bounded (an input may be a FIFO), and use
// fs.promises, which Node loads on first use.

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * What a path names, as a string two paths share exactly when they are the same file: the device
 * and inode of the file (links followed); for a path that does not exist (or a dangling link,
 * which a write replaces), the device and inode of its directory (links followed) and its name.
 */
function fileIdentity(path: string): string {
  try {
    const info = statSync(path, { bigint: true });
    return `${info.dev}:${info.ino}`;
  } catch {
    // not there (or not reachable): named by its directory
  }
  try {
    // dirname() of the path as given, not of resolve(path): "link/../x" is in the parent of the
    // link's target for the system, and resolve() would drop "link/.." as text.
    const dir = statSync(dirname(path), { bigint: true });
    return `${dir.dev}:${dir.ino}/${basename(path)}`;
  } catch {
    // no directory either: nothing can be written there, and checkOutputs says so
    return `path:${resolve(path)}`;
  }
}

/**
 * Whether two paths are, or once written would be, the same file: compared by device and inode
 * after following links (so `sub/a.json` with `sub` a link to `.`, `../dir/a.json` and a hard link
 * of `a.json` are all `a.json`), and for paths that do not exist yet by their directory and name.
 * @example await sameFile('a.json', 'sub/a.json') // true when sub links to .
 */
export async function sameFile(a: string, b: string): Promise<boolean> {
  return fileIdentity(a) === fileIdentity(b);
}

/**
 * Checks that every output can be written, before anything is: distinct files, none of them one of
 * `inputs`, no directory, an existing parent directory, and no existing file unless `force`.
 * @throws KeymintError ERR_USAGE when two outputs, or an input and an output, are the same file;
 *   ERR_FILE_EXISTS, ERR_IO
 * @example await checkOutputs(['k.pub.json', 'k.json'], { inputs: [['pass.txt', '--password-file']] });
 */
export async function checkOutputs(paths: readonly string[], options: CheckOptions = {}): Promise<void> {
  const ids = paths.map(fileIdentity);
  for (const [i, id] of ids.entries()) {
    const j = ids.indexOf(id);
    if (j < i) {
      const message = `${paths[j]} and ${paths[i]} are the same file: the output files must be two different files`;
      throw new KeymintError(ErrorCode.USAGE, message);
    }
  }
  for (const [input, name] of options.inputs ?? []) {
    if (input === undefined || input === '-') continue;
    const i = ids.indexOf(fileIdentity(input));
    if (i >= 0) {
      const message = `${name} ${input} and the output ${paths[i]} are the same file: keymint would overwrite what it reads`;
      throw new KeymintError(ErrorCode.USAGE, message);
    }
  }
  for (const path of paths) {
    let info: Stats | undefined;
    try {
      info = statSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(describeFsError(path, error), error);
    }
    if (info?.isDirectory()) throw ioError(`${path}: is a directory: give a file name`);
    if (info !== undefined && !options.force) {
      throw new KeymintError(ErrorCode.FILE_EXISTS, `${path} already exists: keymint does not overwrite files`, {
        hint: message`use ${param('force')} to replace it`,
      });
    }
    const parent = dirname(resolve(path));
    try {
      const dir = statSync(parent);
      if (!dir.isDirectory()) throw ioError(`${path}: ${parent} is not a directory`);
    } catch (error) {
      if (error instanceof KeymintError) throw error;
      throw ioError(`${path}: the directory ${parent} does not exist`, error);
    }
  }
}

/**
 * A fresh name next to `path` for a temp file: `.<name>.keymint-<hex>.tmp`, the hex being this
 * host's tag (8 digits), the writer's pid (8) and 12 random digits, so that a later run can tell
 * whether the writer is gone (see `removeStaleTemps`).
 * @example tempPathFor('/d/key.json') // '/d/.key.json.keymint-1a2b3c4d0000c0de5e6f7a8b9c0d.tmp'
 */
export function tempPathFor(path: string): string {
  const pid = (process.pid >>> 0).toString(16).padStart(8, '0');
  return join(dirname(path), `.${basename(path)}.keymint-${hostTag()}${pid}${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Temp names of 12 hex digits (keymint before the pid was part of the name) say nothing of their
 * writer: those alone are judged by age, and are stale after this long. Names with a pid are never
 * judged by age: a writer may be stopped (SIGSTOP, a suspended laptop) for any time and go on.
 */
export const STALE_TEMP_MS = 60_000;

/** True when the temp file's writer is provably gone (see `removeStaleTemps`). */
function writerGone(hex: string, ctimeMs: number): boolean {
  if (hex.length === 12) return Date.now() - ctimeMs >= STALE_TEMP_MS;
  // 28 digits: tag, pid, random. A pid issued on another host or in another PID namespace means
  // nothing here: such a temp is never ours to judge. 20 digits (pid, random: keymint before the
  // tag) are judged by the pid alone.
  if (hex.length === 28 && hex.slice(0, 8) !== hostTag()) return false;
  const pid = Number.parseInt(hex.slice(-20, -12), 16);
  return pid > 0 && pid !== process.pid && !processExists(pid);
}

/**
 * Removes the temp files that interrupted writes of `path` left in its directory
 * (`.<name>.keymint-<hex>.tmp`) whose writer is provably gone: written on this host (in this PID
 * namespace) by a process that no longer exists. A live writer's temp is never removed, however
 * old; names without a pid (older keymint) are removed after STALE_TEMP_MS. Nothing else is
 * touched: not the temp files of other names, not directories or links, not files of other users.
 * Best effort: it never throws.
 * @returns the paths removed
 * @example await removeStaleTemps('key.json'); // after a killed `keymint create`
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(resolve(path));
  const prefix = `.${basename(path)}.keymint-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const hex = name.slice(prefix.length, -'.tmp'.length);
    if (!/^(?:[0-9a-f]{12}|[0-9a-f]{20}|[0-9a-f]{28})$/.test(hex)) continue;
    const temp = join(dir, name);
    try {
      const info = lstatSync(temp);
      if (!info.isFile() || (process.getuid !== undefined && info.uid !== process.getuid())) continue;
      // ctime, not mtime: a backup is a hard link of the old file, whose mtime may be years old.
      if (!writerGone(hex, info.ctimeMs)) continue;
      unlinkSync(temp);
      removed.push(temp);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

function writeTemp(file: OutputFile): string {
  const temp = tempPathFor(file.path);
  let fd: number;
  try {
    fd = openSync(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, file.mode);
  } catch (error) {
    throw ioError(describeFsError(file.path, error), error);
  }
  try {
    // chmod after open: the mode given to open() is narrowed by the umask.
    fchmodSync(fd, file.mode);
    writeFileSync(fd, file.content, 'utf8');
    fsyncSync(fd);
    closeSync(fd);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // closed already, or the close itself failed
    }
    unlinkQuietly(temp);
    throw ioError(describeFsError(file.path, error), error);
  }
  return temp;
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, fsConstants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** link() fails if the name exists, so a file that appeared since the check survives. */
function linkNew(temp: string, path: string): void {
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KeymintError(ErrorCode.FILE_EXISTS, `${path} already exists: keymint does not overwrite files`, {
        hint: message`use ${param('force')} to replace it`,
      });
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
 * @returns true; false when `options.precondition` said no (then nothing was changed)
 * @throws KeymintError ERR_FILE_EXISTS, ERR_IO, ERR_USAGE
 * @example await writeFilesAtomically([{ path: 'key.json', content, mode: PRIVATE_FILE_MODE }]);
 */
export async function writeFilesAtomically(files: readonly OutputFile[], options: WriteOptions = {}): Promise<boolean> {
  await checkOutputs(
    files.map((f) => f.path),
    options,
  );
  const temps: string[] = [];
  const backups: (string | undefined)[] = [];
  const done: { path: string; backup: string | undefined }[] = [];
  let allowed = true;
  try {
    for (const file of files) temps.push(writeTemp(file));
    if (options.force) {
      // A backup puts a replaced file back when a later one fails; nothing comes after the last.
      // (A backup is a hard link: it would also change the ctime of the file a precondition checks.)
      for (const [i, file] of files.entries()) {
        const backup = i < files.length - 1 && exists(file.path) ? tempPathFor(file.path) : undefined;
        if (backup !== undefined) linkSync(file.path, backup);
        backups.push(backup);
      }
    }
    // Everything that can be prepared is: the precondition is checked and the files go into place
    // synchronously, back to back, so nothing in this process runs in between, and a process killed
    // at a random moment almost never leaves half of a key pair new.
    allowed = options.precondition?.() ?? true;
    if (allowed) {
      for (const [i, file] of files.entries()) {
        const temp = temps[i] as string;
        if (options.force) renameSync(temp, file.path);
        else linkNew(temp, file.path);
        done.push({ path: file.path, backup: backups[i] });
      }
    }
    if (!options.force || !allowed) temps.forEach(unlinkQuietly);
  } catch (error) {
    for (const { path, backup } of done.reverse()) {
      if (backup === undefined) unlinkQuietly(path);
      else {
        try {
          renameSync(backup, path);
        } catch {
          // best effort: the error below is what the caller hears
        }
      }
    }
    for (const backup of backups.slice(done.length)) if (backup !== undefined) unlinkQuietly(backup);
    temps.forEach(unlinkQuietly);
    if (error instanceof KeymintError) throw error;
    throw ioError(describeFsError(files[done.length]?.path ?? files[0]?.path ?? '', error), error);
  }
  for (const backup of backups) if (backup !== undefined) unlinkQuietly(backup);
  if (!allowed) return false;
  // What a killed earlier write of these files left behind (backups hold the old private key).
  for (const file of files) await removeStaleTemps(file.path);
  for (const dir of new Set(files.map((f) => dirname(resolve(f.path))))) syncDirectory(dir);
  return true;
}

function kindOf(info: Stats | BigIntStats): string | undefined {
  if (info.isFile()) return undefined;
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notRegular(what: string, path: string, kind: string): KeymintError {
  return ioError(`${what} ${path}: is ${kind}, not a regular file: keymint changes only regular files`);
}

/**
 * The file a write to `path` must change: `path` itself, or, when `path` is a symbolic link, the
 * file it points to (so that the link stays a link). Checked without opening anything: a dangling
 * link, a directory, a FIFO, a device or a socket is refused.
 * @returns the path to write, or undefined when `path` does not exist
 * @throws KeymintError ERR_IO
 * @example await resolveFileToReplace('jwks.json', 'JWK Set') // '/srv/keys/jwks-2026.json' for a link
 */
export async function resolveFileToReplace(path: string, what = 'file'): Promise<string | undefined> {
  let target = path;
  let link = false;
  try {
    link = (await fsp.lstat(path)).isSymbolicLink();
    if (link) target = await fsp.realpath(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !link) return undefined;
    if (code === 'ENOENT') throw ioError(`${what} ${path}: is a symbolic link to a file that does not exist`, error);
    if (code === 'ELOOP') throw ioError(`${what} ${path}: is a loop of symbolic links`, error);
    throw ioError(`${what} ${describeFsError(path, error)}`, error);
  }
  let info: Stats;
  try {
    info = await fsp.stat(target);
  } catch (error) {
    throw ioError(`${what} ${describeFsError(path, error)}`, error);
  }
  const kind = kindOf(info);
  if (kind !== undefined) throw notRegular(what, path, kind);
  return target;
}

/** What a file was when it was read: enough to tell later whether it has been replaced or changed. */
export interface FileVersion {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

function versionOf(info: BigIntStats): FileVersion {
  return { dev: info.dev, ino: info.ino, size: info.size, mtimeNs: info.mtimeNs, ctimeNs: info.ctimeNs };
}

/**
 * Reads a regular file that is about to be replaced, with its mode and version (see
 * `unchangedSince`). It never blocks and never follows a final link: a FIFO, a device or anything
 * but a regular file is refused before a byte is read.
 * @returns undefined when the file does not exist
 * @throws KeymintError ERR_IO; ERR_INPUT_INVALID when larger than `maxBytes`
 * @example const current = await readFileToReplace('/srv/jwks.json', 'JWK Set', 'jwks.json');
 */
export async function readFileToReplace(
  path: string,
  what = 'file',
  label = path,
  maxBytes = MAX_INPUT_BYTES,
): Promise<{ text: string; mode: number; version: FileVersion } | undefined> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO put in the file's place must not hang keymint at open() or read().
    handle = await fsp.open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(`${what} ${describeFsError(label, error)}`, error);
  }
  try {
    const info = await handle.stat({ bigint: true });
    const kind = kindOf(info);
    if (kind !== undefined) throw notRegular(what, label, kind);
    if (info.size > BigInt(maxBytes)) throw tooLarge(what, `${label} (${info.size} bytes)`, maxBytes);
    const bytes = await readStream(handle.createReadStream({ autoClose: false }), what, label, maxBytes);
    return { text: bytes.toString('utf8'), mode: Number(info.mode & 0o777n), version: versionOf(info) };
  } catch (error) {
    if (error instanceof KeymintError) throw error;
    throw ioError(`${what} ${describeFsError(label, error)}`, error);
  } finally {
    await handle.close();
  }
}

/**
 * Whether `path` is still the file `version` describes (same device, inode, size, modification and
 * change times), or, for `undefined`, still does not exist. Synchronous on purpose: called in the
 * same synchronous block as the rename it guards.
 * @example writeFilesAtomically(files, { force: true, precondition: () => unchangedSince(path, read.version) })
 */
export function unchangedSince(path: string, version: FileVersion | undefined): boolean {
  let info: BigIntStats;
  try {
    info = lstatSync(path, { bigint: true });
  } catch (error) {
    return version === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
  if (version === undefined) return false;
  const now = versionOf(info);
  return (Object.keys(now) as (keyof FileVersion)[]).every((k) => now[k] === version[k]);
}

function tooLarge(what: string, where: string, maxBytes: number): KeymintError {
  return new KeymintError(
    ErrorCode.INPUT_INVALID,
    `${what} ${where} is larger than the ${maxBytes} bytes keymint reads`,
  );
}

/**
 * Reads a file as bytes, or standard input for "-", refusing anything over `maxBytes` without
 * reading it all: the size is checked before reading and again while reading (it may grow).
 * @throws KeymintError ERR_IO naming the file and what went wrong; ERR_INPUT_INVALID when too large
 */
export async function readInputBytes(path: string, what = 'file', maxBytes = MAX_INPUT_BYTES): Promise<Buffer> {
  if (path === '-') return readStream(process.stdin, what, 'on standard input', maxBytes);
  let info: Stats;
  try {
    info = await fsp.stat(path);
  } catch (error) {
    throw ioError(`${what} ${describeFsError(path, error)}`, error);
  }
  if (info.isDirectory()) throw ioError(`${what} ${path}: is a directory, not a file`);
  if (info.isFile() && info.size > maxBytes) throw tooLarge(what, `${path} (${info.size} bytes)`, maxBytes);
  let handle: FileHandle;
  try {
    handle = await fsp.open(path, 'r');
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

async function readStream(
  stream: AsyncIterable<unknown>,
  what: string,
  where: string,
  maxBytes: number,
): Promise<Buffer> {
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
  if (password.length === 0)
    throw new KeymintError(ErrorCode.PARAM_INVALID, `${flag} ${path} is empty: it must hold the password`);
  return password;
}
