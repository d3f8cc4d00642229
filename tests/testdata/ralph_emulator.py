#!/usr/bin/env python3
"""Emulates ralph-orchestrator's Rust LoopRegistry on .ralph/loops.json.

Same lock and same write as ralph's `with_lock`: an exclusive flock(2) on the
file itself (Python's fcntl.flock is the same call as nix::fcntl::Flock), read,
parse into ralph's struct (fields it does not know are dropped, as serde does),
drop entries whose pid is dead, apply the change, then truncate to zero, write
pretty JSON (two-space indent, like serde_json::to_string_pretty) and fsync.

Usage: ralph_emulator.py <workspace> own <n> <count>
  registers and deregisters an entry of its own pid <count> times, then
  registers `ralph-final-<n>`, prints "done" and waits for stdin EOF.
Usage: ralph_emulator.py <workspace> register <id> <pid>
"""
import fcntl
import json
import os
import sys
from datetime import datetime, timezone

FIELDS = ["id", "pid", "started", "prompt", "worktree_path", "workspace"]


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def with_lock(path, change):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = b""
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            data += chunk
        text = data.decode("utf-8")
        loops = [] if not text.strip() else json.loads(text)["loops"]
        loops = [{k: e[k] for k in FIELDS if k in e} for e in loops]
        loops = [e for e in loops if alive(e["pid"])]
        change(loops)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps({"loops": loops}, indent=2).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


def entry(loop_id, pid, workspace):
    started = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return {"id": loop_id, "pid": pid, "started": started,
            "prompt": "ralph", "workspace": workspace}


def register(path, new):
    def change(loops):
        loops[:] = [e for e in loops if e["pid"] != new["pid"]]
        loops.append(new)
    with_lock(path, change)


def deregister(path, loop_id):
    def change(loops):
        loops[:] = [e for e in loops if e["id"] != loop_id]
    with_lock(path, change)


def main():
    workspace, mode = sys.argv[1], sys.argv[2]
    path = os.path.join(workspace, ".ralph", "loops.json")
    if mode == "register":
        register(path, entry(sys.argv[3], int(sys.argv[4]), workspace))
        return
    n, count = int(sys.argv[3]), int(sys.argv[4])
    for i in range(count):
        loop_id = f"ralph-{n}-{i}"
        register(path, entry(loop_id, os.getpid(), workspace))
        deregister(path, loop_id)
    register(path, entry(f"ralph-final-{n}", os.getpid(), workspace))
    print("done", flush=True)
    sys.stdin.read()


main()
