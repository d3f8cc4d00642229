// A loop's process tree, read from /proc: the loop's process and every
// descendant, each with the start time that identifies it. `loops stop`
// snapshots the tree before it signals (a shell's children are reparented
// once it dies, and could not be found afterwards), and signals a member
// only while its start time still matches (its pid was not reused).
// Reading /proc needs -A; without it the tree is the loop's process alone.

/** A process of a loop's tree, identified by pid and start time. */
export interface TreeMember {
  pid: number;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTime: number;
}

interface Stat {
  pid: number;
  ppid: number;
  startTime: number;
  state: string;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    // Gone, not readable, or /proc refused (no -A): not a member.
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const ppid = Number(fields[1]);
  const startTime = Number(fields[19]);
  if (!Number.isSafeInteger(ppid) || !Number.isSafeInteger(startTime)) {
    return undefined;
  }
  return { pid, ppid, startTime, state: fields[0] ?? "" };
}

function allStats(): Stat[] {
  const stats: Stat[] = [];
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const stat = readStat(Number(entry.name));
      if (stat !== undefined) stats.push(stat);
    }
  } catch {
    // No /proc, or no permission to read it: no descendants known.
  }
  return stats;
}

/**
 * The descendants of `roots` (children, grandchildren, ...) from one scan of
 * /proc. A process counts as a child only when it started no earlier than
 * its parent, so a parent pid that was reused does not adopt strangers.
 */
export function descendants(roots: readonly TreeMember[]): TreeMember[] {
  const children = new Map<number, Stat[]>();
  for (const stat of allStats()) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat);
    children.set(stat.ppid, list);
  }
  const found: TreeMember[] = [];
  const seen = new Set(roots.map((root) => root.pid));
  const queue = [...roots];
  for (let member = queue.shift(); member; member = queue.shift()) {
    for (const child of children.get(member.pid) ?? []) {
      if (seen.has(child.pid) || child.startTime < member.startTime) continue;
      seen.add(child.pid);
      const next = { pid: child.pid, startTime: child.startTime };
      found.push(next);
      queue.push(next);
    }
  }
  return found;
}

/** Whether `member` still runs: the same pid with the same start time. */
export function isRunning(member: TreeMember): boolean {
  const stat = readStat(member.pid);
  return stat !== undefined && stat.startTime === member.startTime &&
    stat.state !== "Z" && stat.state !== "X";
}

/** The start time of a live process, or `undefined`. */
export function startTimeOf(pid: number): number | undefined {
  return readStat(pid)?.startTime;
}
