// The floor: the least a durable registry update and a registry read must do,
// written plainly with the same synchronous Deno calls the library uses. The
// library's numbers are reported as ratios to these, measured in the same run.

/** A file of `size` bytes to run the floor against. */
export function prepareFloorFile(path: string, size = 300): void {
  Deno.writeFileSync(path, new Uint8Array(size).fill(0x20), { mode: 0o600 });
}

const scratch = new Uint8Array(64 * 1024);
const record300 = new Uint8Array(300).fill(0x61);
const record600 = new Uint8Array(600).fill(0x62);

function lockExclusive(file: Deno.FsFile): void {
  if (!file.tryLockSync(true)) file.lockSync(true);
}

/**
 * The write floor: open, exclusive flock, read, write 300 bytes in place,
 * fdatasync (`syncDataSync`, as the library), close. The size never changes.
 */
export function writeFloor(path: string): void {
  using file = Deno.openSync(path, { read: true, write: true });
  lockExclusive(file);
  file.readSync(scratch);
  file.seekSync(0, Deno.SeekMode.Start);
  file.writeSync(record300);
  file.syncDataSync();
}

/** The write floor with `fsync` (`syncSync`) in place of `fdatasync`. */
export function writeFloorFsync(path: string): void {
  using file = Deno.openSync(path, { read: true, write: true });
  lockExclusive(file);
  file.readSync(scratch);
  file.seekSync(0, Deno.SeekMode.Start);
  file.writeSync(record300);
  file.syncSync();
}

let grow = false;

/**
 * Diagnostic: the write floor, but the file alternates between 300 and 600
 * bytes (grown by the write, shrunk by a truncate), as a registry does when
 * an entry is added or removed. fdatasync must then also commit the size.
 */
export function writeFloorResizing(path: string): void {
  using file = Deno.openSync(path, { read: true, write: true });
  lockExclusive(file);
  const read = file.readSync(scratch) ?? 0;
  grow = !grow;
  const record = grow ? record600 : record300;
  file.seekSync(0, Deno.SeekMode.Start);
  file.writeSync(record);
  if (record.length < read) file.truncateSync(record.length);
  file.syncDataSync();
}

/**
 * Diagnostic: the resizing floor plus the library's journal (open with
 * truncate, write old+new bytes, and after the fdatasync truncate to 0).
 */
export function writeFloorJournaled(path: string): void {
  using file = Deno.openSync(path, { read: true, write: true });
  lockExclusive(file);
  const read = file.readSync(scratch) ?? 0;
  grow = !grow;
  const record = grow ? record600 : record300;
  using journal = Deno.openSync(`${path}.journal`, {
    write: true,
    create: true,
    truncate: true,
    mode: 0o600,
  });
  journal.writeSync(scratch.subarray(0, read + record.length + 40));
  file.seekSync(0, Deno.SeekMode.Start);
  file.writeSync(record);
  if (record.length < read) file.truncateSync(record.length);
  file.syncDataSync();
  journal.truncateSync(0);
}

/** The read floor: open, shared flock, read, close. */
export function readFloor(path: string): void {
  using file = Deno.openSync(path, { read: true });
  if (!file.tryLockSync(false)) file.lockSync(false);
  file.readSync(scratch);
}
