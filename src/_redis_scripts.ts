// The Redis engine's only writes and reads: one Lua script per operation,
// run atomically by the server and judged by the server's clock (`TIME`),
// never the caller's. This file is the one place that states the key layout
// and the lease rule; every other Redis file calls these scripts.
//
// Keys of a namespace share the hash tag `{ns}`, so they live in one Redis
// Cluster slot and every script may touch all of them:
//
// | key              | type       | holds                                 |
// | ---------------- | ---------- | ------------------------------------- |
// | `<p>{ns}:lease`  | sorted set | id -> lease deadline, server ms       |
// | `<p>{ns}:entry`  | hash       | id -> entry JSON                      |
// | `<p>{ns}:token`  | hash       | id -> the registration's random token |
// | `<p>{ns}:proc`   | hash       | id -> host:pidns:pid                  |
// | `<p>{ns}:byproc` | hash       | host:pidns:pid -> id (same-pid rule)  |
// | `<p>{ns}:events` | stream     | capped: type (registered, updated,    |
// |                  |            | deregistered, expired) and id         |
// | `<p>{ns}:beat`   | hash       | id -> "renewedAt ttl", server ms: the |
// |                  |            | last registration or renewal          |
//
// The lease rule: an id is live while its deadline is later than the
// server's `TIME`. Every script reads `TIME` first and treats an expired
// lease as absent (list and get never return it, register takes it over),
// whether or not a clean has removed it yet. A live lease whose last
// renewal is older than two renewal intervals (two thirds of its ttl) is
// stale: its owner is hung or cut off (see `staleAt`).

/** Key names of one namespace, in the order every script takes them. */
export function namespaceKeys(prefix: string, namespace: string): string[] {
  const base = `${prefix}{${namespace}}:`;
  return ["lease", "entry", "token", "proc", "events", "byproc", "beat"].map((
    k,
  ) => base + k);
}

// ARGV[1] of every script: the stream's approximate cap.
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function event(kind, id)
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[1], '*', 'type', kind, 'id', id)
end
local function unindex(id)
  local proc = redis.call('HGET', KEYS[4], id)
  if proc and redis.call('HGET', KEYS[6], proc) == id then
    redis.call('HDEL', KEYS[6], proc)
  end
  redis.call('HDEL', KEYS[4], id)
end
local function index(id, proc)
  unindex(id)
  if proc ~= '' then
    redis.call('HSET', KEYS[4], id, proc)
    redis.call('HSET', KEYS[6], proc, id)
  end
end
local function lease(id, ttl)
  redis.call('ZADD', KEYS[1], now + ttl, id)
  redis.call('HSET', KEYS[7], id, now .. ' ' .. ttl)
end
local function drop(id, kind)
  unindex(id)
  redis.call('HDEL', KEYS[7], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  event(kind, id)
end
local function deadline(id)
  local e = redis.call('ZSCORE', KEYS[1], id)
  if e then return tonumber(e) end
  return nil
end
-- Why the registration of token is no longer id's ('lost', 'taken-over'),
-- or nil while it holds a live lease; an expired lease is dropped.
local function unheld(id, token)
  local held = redis.call('HGET', KEYS[3], id)
  if not held then return 'lost' end
  if held ~= token then return 'taken-over' end
  local d = deadline(id)
  if not d or d <= now then
    drop(id, 'expired')
    return 'lost'
  end
  return nil
end
`;

/**
 * When the lease recorded as `beat` ("renewedAt ttl", server ms) with the
 * deadline `deadline` turns stale: two renewal intervals (a claim renews
 * every third of its ttl) after its last renewal. `undefined` for a lease
 * without the record, or whose record is not of its last renewal (the
 * deadline is not renewedAt + ttl: renewed by a client that keeps no
 * record), so that such a lease is never called stale.
 */
export function staleAt(beat: string, deadline: number): number | undefined {
  const space = beat.indexOf(" ");
  if (space < 0) return undefined;
  const renewedAt = Number(beat.slice(0, space));
  const ttl = Number(beat.slice(space + 1));
  if (!Number.isFinite(renewedAt) || !Number.isFinite(ttl)) return undefined;
  if (renewedAt + ttl !== deadline) return undefined;
  return renewedAt + (2 * ttl) / 3;
}

/** The scripts, by name. Replies are flat arrays of strings or integers. */
export const SCRIPTS = {
  // ARGV: cap, id, json, token, ttl, proc. Reply: {'taken'} or {'ok'}. A
  // live lease of the same token is this very registration sent again (a
  // retry whose first try timed out but was applied): it is renewed.
  register: `${PRELUDE}
local id = ARGV[2]
local d = deadline(id)
if d then
  if d > now then
    if redis.call('HGET', KEYS[3], id) ~= ARGV[4] then return {'taken'} end
  else
    drop(id, 'expired')
  end
end
if ARGV[6] ~= '' then
  -- A process runs one loop: the loop its pid registered before goes.
  local other = redis.call('HGET', KEYS[6], ARGV[6])
  if other and other ~= id then drop(other, 'deregistered') end
end
index(id, ARGV[6])
lease(id, tonumber(ARGV[5]))
redis.call('HSET', KEYS[2], id, ARGV[3])
redis.call('HSET', KEYS[3], id, ARGV[4])
event('registered', id)
return {'ok'}
`,
  // ARGV: cap, id, token, ttl. Reply: {'renewed' | 'lost' | 'taken-over'}.
  heartbeat: `${PRELUDE}
local id = ARGV[2]
local why = unheld(id, ARGV[3])
if why then return {why} end
lease(id, tonumber(ARGV[4]))
return {'renewed'}
`,
  // ARGV: cap, id, token, json, proc, ttl. Reply as heartbeat's.
  reassign: `${PRELUDE}
local id = ARGV[2]
local why = unheld(id, ARGV[3])
if why then return {why} end
redis.call('HSET', KEYS[2], id, ARGV[4])
index(id, ARGV[5])
lease(id, tonumber(ARGV[6]))
event('updated', id)
return {'renewed'}
`,
  // ARGV: cap, id, token ('' = any). Reply: {1} removed a live lease, {0}
  // nothing live (an expired one is dropped), {-1} the token differs.
  deregister: `${PRELUDE}
local id = ARGV[2]
local token = redis.call('HGET', KEYS[3], id)
if ARGV[3] ~= '' and token ~= ARGV[3] then return {-1} end
local d = deadline(id)
if not d then
  if token then drop(id, 'expired') end
  return {0}
end
if d <= now then
  drop(id, 'expired')
  return {0}
end
drop(id, 'deregistered')
return {1}
`,
  // ARGV: cap, proc... Reply: {live leases removed}.
  deregisterProc: `${PRELUDE}
local wanted = {}
for i = 2, #ARGV do wanted[ARGV[i]] = true end
local procs = redis.call('HGETALL', KEYS[4])
local removed = 0
for i = 1, #procs, 2 do
  if wanted[procs[i + 1]] then
    local d = deadline(procs[i])
    if d and d > now then
      removed = removed + 1
      drop(procs[i], 'deregistered')
    else
      drop(procs[i], 'expired')
    end
  end
end
return {removed}
`,
  // ARGV: cap, id, json. Removes the id if its entry is still exactly json.
  // Reply: {1} removed, {0} not.
  dropIf: `${PRELUDE}
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[3] then return {0} end
drop(ARGV[2], 'deregistered')
return {1}
`,
  // ARGV: cap. Reply: {last event id, now, id1, json1, deadline1, beat1,
  // ...}, live leases only (beat: "renewedAt ttl", or '' where none).
  list: `${PRELUDE}
local last = redis.call('XREVRANGE', KEYS[5], '+', '-', 'COUNT', 1)
local reply = {'0-0', tostring(now)}
if last[1] then reply[1] = last[1][1] end
local live = redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE', 'WITHSCORES')
-- HMGET in chunks (unpack has a stack limit), not one HGET per id.
local chunk = 2000
for start = 1, #live, 2 * chunk do
  local ids = {}
  for i = start, math.min(#live, start + 2 * chunk - 1), 2 do
    ids[#ids + 1] = live[i]
  end
  local jsons = redis.call('HMGET', KEYS[2], unpack(ids))
  local beats = redis.call('HMGET', KEYS[7], unpack(ids))
  for j = 1, #ids do
    if jsons[j] then
      reply[#reply + 1] = ids[j]
      reply[#reply + 1] = jsons[j]
      reply[#reply + 1] = live[start + 2 * j - 1]
      reply[#reply + 1] = beats[j] or ''
    end
  end
end
return reply
`,
  // ARGV: cap, id, all ('1' = expired too). Reply: {now, json, deadline,
  // beat} or {now}.
  get: `${PRELUDE}
local d = deadline(ARGV[2])
local json = redis.call('HGET', KEYS[2], ARGV[2])
if not json or ((not d or d <= now) and ARGV[3] ~= '1') then
  return {tostring(now)}
end
return {tostring(now), json, tostring(d or 0),
  redis.call('HGET', KEYS[7], ARGV[2]) or ''}
`,
  // ARGV: cap. Removes expired leases (and entries without one) as
  // `expired` events. Reply: {removed}.
  clean: `${PRELUDE}
local removed = 0
local gone = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE')
for _, id in ipairs(gone) do
  drop(id, 'expired')
  removed = removed + 1
end
local ids = redis.call('HKEYS', KEYS[2])
for _, id in ipairs(ids) do
  if not deadline(id) then
    drop(id, 'expired')
    removed = removed + 1
  end
end
return {removed}
`,
} as const;

/** A script's name. */
export type ScriptName = keyof typeof SCRIPTS;
