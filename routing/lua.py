"""The ACD's Lua scripts. Every change to waiting queues, agent seats and agent states runs inside one of these,
so Redis applies it atomically: no contact is offered twice and no agent goes past capacity, however many
threads or processes dispatch at once.

Keys are built inside the scripts from the prefix passed as ARGV[1] (queue names are dynamic), so the scripts
run on one Redis node (the embedded server or ``REDIS_URL``), not on a Redis Cluster.

Layout under the prefix (``<app prefix>acd:``):

- ``agent:<id>``      hash: state, since, reason, acw_until, level, rank, name, idle_since, queues (comma list of
                       served queue ids; ``chat.*`` serves every chat queue), ``cap:<channel>``, ``load:<channel>``
- ``seats:<id>``      hash contact id -> channel: the contacts an agent holds (load is their count per channel)
- ``avail:<serve>:<r>`` zset of agents that can take a contact now from ``serve`` (a queue id or ``<channel>.*``)
                       with level rank >= r; score = load * 2^32 + idle_since (least loaded, then longest idle)
- ``q:<queue>``       zset of waiting contacts; score = (11 - band) * 2^32 + order_ts (band 11 = transferred,
                       else the priority 0..10), so ascending order is: transfers, VIP, then longest wait
- ``qr:<queue>:<r>``  the same, split by required rank r (1..3; no requirement counts as 1), without
                       contacts transferred to a named agent (those wait in ``tq:<agent id>``)
- ``qw:<queue>``      zset of waiting contacts by enqueued_at (longest wait figure)
- ``c:<id>``          hash of a waiting contact: queue, channel, rank, target, exclude, enq
- ``tq:<agent id>``   zset of contacts transferred to that named agent; ``tagents`` set of such agents
- ``wqueues``         set of queues with waiting contacts; ``queues`` every queue ever seen; ``qchan`` queue -> channel
- ``acw``             zset agent id -> acw_until; ``agents`` set of registered agents; ``fig:<queue>`` figures hash
"""

PRELUDE = r"""
local P = ARGV[1]
local TWO32 = 4294967296
local function fmt(x) return string.format('%.17g', x) end
local function A(aid) return P .. 'agent:' .. aid end
local function SEATS(aid) return P .. 'seats:' .. aid end
local function AV(serve, r) return P .. 'avail:' .. serve .. ':' .. r end
local function Q(q) return P .. 'q:' .. q end
local function QR(q, r) return P .. 'qr:' .. q .. ':' .. math.max(tonumber(r) or 0, 1) end
local function QW(q) return P .. 'qw:' .. q end
local function C(cid) return P .. 'c:' .. cid end
local function TQ(aid) return P .. 'tq:' .. aid end
local function FIG(q) return P .. 'fig:' .. q end
local TAGENTS = P .. 'tagents'
local WQUEUES = P .. 'wqueues'
local QUEUES = P .. 'queues'
local QCHAN = P .. 'qchan'
local AGENTS = P .. 'agents'
local ACW = P .. 'acw'

local function chan_of(serve) return string.match(serve, '^([^.]+)%.') or serve end
local function blank(v) return v == false or v == nil or v == '' end

-- An agent holding a call (ringing, talking or on hold, until its wrap-up frees the seat) is on that call: the
-- ACD offers it nothing else, as a phone ACD does; chats and mails it already holds stay with it.
local function on_call(aid)
  local c = redis.call('HMGET', A(aid), 'load:voice', 'load:video')
  return (tonumber(c[1]) or 0) > 0 or (tonumber(c[2]) or 0) > 0
end

-- Put the agent in (or take it out of) the availability sets of every queue it serves.
local function refresh(aid)
  local a = A(aid)
  local f = redis.call('HMGET', a, 'state', 'rank', 'idle_since', 'queues')
  if blank(f[4]) then return end
  local rank = tonumber(f[2]) or 1
  local idle = tonumber(f[3]) or 0
  local calling = on_call(aid)
  for serve in string.gmatch(f[4], '[^,]+') do
    local ch = chan_of(serve)
    local lc = redis.call('HMGET', a, 'load:' .. ch, 'cap:' .. ch)
    local load = tonumber(lc[1]) or 0
    local free = f[1] == 'available' and not calling and load < (tonumber(lc[2]) or 0)
    for r = 1, 3 do
      if free and r <= rank then
        redis.call('ZADD', AV(serve, r), fmt(load * TWO32 + idle), aid)
      else
        redis.call('ZREM', AV(serve, r), aid)
      end
    end
  end
end

local function forget_serving(aid, queues)
  if blank(queues) then return end
  for serve in string.gmatch(queues, '[^,]+') do
    for r = 1, 3 do redis.call('ZREM', AV(serve, r), aid) end
  end
end

-- Take a contact out of every waiting structure.
local function unqueue(cid, q, target, rank)
  redis.call('ZREM', Q(q), cid)
  redis.call('ZREM', QR(q, rank), cid)
  redis.call('ZREM', QW(q), cid)
  if redis.call('ZCARD', Q(q)) == 0 then redis.call('SREM', WQUEUES, q) end
  if not blank(target) then
    redis.call('ZREM', TQ(target), cid)
    if redis.call('ZCARD', TQ(target)) == 0 then redis.call('SREM', TAGENTS, target) end
  end
  redis.call('DEL', C(cid))
end

local function seat(cid, aid, ch)
  if redis.call('HSETNX', SEATS(aid), cid, ch) == 1 then
    redis.call('HINCRBY', A(aid), 'load:' .. ch, 1)
  end
  refresh(aid)
end

-- Free a seat once: a second release of the same contact changes nothing.
local function unseat(aid, cid)
  local ch = redis.call('HGET', SEATS(aid), cid)
  if blank(ch) then return false end
  redis.call('HDEL', SEATS(aid), cid)
  if redis.call('HINCRBY', A(aid), 'load:' .. ch, -1) < 0 then
    redis.call('HSET', A(aid), 'load:' .. ch, 0)
  end
  return ch
end
"""

# ARGV: prefix, cid, queue, channel, rank, target, exclude, score, enq, transferred(0/1), count_offer(0/1)
ENQUEUE = r"""
local cid, q, ch, rank = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local target, exclude, score, enq = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if redis.call('EXISTS', C(cid)) == 1 then return 0 end
redis.call('HSET', C(cid), 'queue', q, 'channel', ch, 'rank', rank, 'target', target, 'exclude', exclude,
           'enq', enq)
redis.call('ZADD', Q(q), score, cid)
redis.call('ZADD', QW(q), enq, cid)
redis.call('SADD', WQUEUES, q)
redis.call('SADD', QUEUES, q)
redis.call('HSET', QCHAN, q, ch)
if blank(target) then
  redis.call('ZADD', QR(q, rank), score, cid)
else
  redis.call('ZADD', TQ(target), score, cid)
  redis.call('SADD', TAGENTS, target)
end
if ARGV[11] == '1' then
  redis.call('HINCRBY', FIG(q), 'offered', 1)
  if ARGV[10] == '1' then redis.call('HINCRBY', FIG(q), 'transferred_in', 1) end
end
return 1
"""

# ARGV: prefix, cid, now, sl_seconds, count(0/1). Returns {queue, wait} or false when the contact was not waiting.
REMOVE = r"""
local cid = ARGV[2]
local c = redis.call('HMGET', C(cid), 'queue', 'target', 'enq', 'rank')
if blank(c[1]) then return false end
unqueue(cid, c[1], c[2], c[4])
local wait = tonumber(ARGV[3]) - (tonumber(c[3]) or tonumber(ARGV[3]))
if ARGV[5] == '1' then
  redis.call('HINCRBY', FIG(c[1]), 'abandoned', 1)
  redis.call('HINCRBYFLOAT', FIG(c[1]), 'abandoned_wait_sum', fmt(wait))
  if wait > tonumber(ARGV[4]) then redis.call('HINCRBY', FIG(c[1]), 'abandoned_after_sl', 1) end
end
return {c[1], fmt(wait)}
"""

# ARGV: prefix, now, max_assign, scan_limit. Returns a flat list: cid, aid, queue, wait, cid, aid, ...
DISPATCH = r"""
local now = tonumber(ARGV[2])
local max_assign = tonumber(ARGV[3])
local scan_limit = tonumber(ARGV[4])
local out = {}
local assigned = 0
if redis.call('SCARD', WQUEUES) == 0 then return out end

local function emit(cid, aid, q, enq)
  out[#out + 1] = cid
  out[#out + 1] = aid
  out[#out + 1] = q
  out[#out + 1] = fmt(now - (tonumber(enq) or now))
  assigned = assigned + 1
end

-- 1. Contacts transferred to a named agent go to that agent only, as soon as it has a free seat.
for _, aid in ipairs(redis.call('SMEMBERS', TAGENTS)) do
  for _, cid in ipairs(redis.call('ZRANGE', TQ(aid), 0, -1)) do
    if assigned >= max_assign then break end
    local c = redis.call('HMGET', C(cid), 'queue', 'channel', 'rank', 'enq')
    if blank(c[1]) then
      redis.call('ZREM', TQ(aid), cid)
    else
      local g = redis.call('HMGET', A(aid), 'state', 'rank', 'load:' .. c[2], 'cap:' .. c[2])
      if g[1] == 'available' and not on_call(aid) and (tonumber(g[2]) or 0) >= (tonumber(c[3]) or 0)
         and (tonumber(g[3]) or 0) < (tonumber(g[4]) or 0) then
        unqueue(cid, c[1], aid, c[3])
        seat(cid, aid, c[2])
        emit(cid, aid, c[1], c[4])
      end
    end
  end
end

-- 2. Queue contacts, merged across queues in (band, wait) order, each to the best eligible agent. Each queue
-- is split by required rank (qr:<queue>:<r>), so a sub-queue is dropped as soon as nobody of rank >= r is
-- free for it, and contacts no free agent could take are never looked at.
local BATCH = 32
local heads = {}
for _, q in ipairs(redis.call('SMEMBERS', WQUEUES)) do
  local ch = redis.call('HGET', QCHAN, q)
  if blank(ch) then ch = chan_of(q) end
  local wild = ch .. '.*'
  for r = 1, 3 do
    if redis.call('ZCARD', AV(q, r)) + redis.call('ZCARD', AV(wild, r)) > 0
       and redis.call('ZCARD', QR(q, r)) > 0 then
      heads[#heads + 1] = {q = q, r = r, buf = {}, i = 1, skipped = 0, done = false}
    end
  end
end

local function head(s)
  if s.i > #s.buf then
    s.buf = redis.call('ZRANGE', QR(s.q, s.r), s.skipped, s.skipped + BATCH - 1, 'WITHSCORES')
    s.i = 1
    if #s.buf == 0 then s.done = true return nil end
  end
  return tonumber(s.buf[s.i + 1])
end

local scanned = 0
while assigned < max_assign and scanned < scan_limit do
  local s, best = nil, nil
  for _, h in ipairs(heads) do
    if not h.done then
      local score = head(h)
      if score and (best == nil or score < best) then s, best = h, score end
    end
  end
  if s == nil then break end
  scanned = scanned + 1
  local cid = s.buf[s.i]
  s.i = s.i + 2
  local c = redis.call('HMGET', C(cid), 'channel', 'rank', 'exclude', 'enq')
  local picked, pscore = nil, nil
  if not blank(c[1]) then
    for _, key in ipairs({AV(s.q, s.r), AV(c[1] .. '.*', s.r)}) do
      local l = redis.call('ZRANGE', key, 0, 1, 'WITHSCORES')
      for j = 1, #l, 2 do
        if l[j] ~= c[3] then
          local sc = tonumber(l[j + 1])
          if pscore == nil or sc < pscore then picked, pscore = l[j], sc end
          break
        end
      end
    end
  end
  if picked then
    unqueue(cid, s.q, nil, s.r)
    seat(cid, picked, c[1])
    emit(cid, picked, s.q, c[4])
  else
    s.skipped = s.skipped + 1
    if blank(c[3]) then
      -- Nobody of rank r is free for this queue: nor for its sub-queues needing more.
      for _, h in ipairs(heads) do
        if h.q == s.q and h.r >= s.r then h.done = true end
      end
    end
  end
end
return out
"""

# ARGV: prefix, aid, state, reason, now, acw_until, rank, level, name, caps ("chat=3,voice=1"),
#       queues ("" = keep the stored list), default_queues, seats ("cid=channel,...", applied on first registration)
# Returns {previous state, previous reason}.
SET_STATE = r"""
local aid, state, reason, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local a = A(aid)
local first = redis.call('EXISTS', a) == 0
local prev = redis.call('HMGET', a, 'state', 'reason', 'queues', 'idle_since')
redis.call('HSET', a, 'rank', ARGV[7], 'level', ARGV[8], 'name', ARGV[9])
for ch, n in string.gmatch(ARGV[10], '([^,=]+)=([^,]+)') do
  redis.call('HSET', a, 'cap:' .. ch, n)
  redis.call('HSETNX', a, 'load:' .. ch, 0)
end
local queues = ARGV[11]
if blank(queues) then queues = prev[3] end
if blank(queues) then queues = ARGV[12] end
if queues ~= prev[3] then
  forget_serving(aid, prev[3])
  redis.call('HSET', a, 'queues', queues)
end
if first then
  redis.call('DEL', SEATS(aid))
  for cid, ch in string.gmatch(ARGV[13], '([^,=]+)=([^,]+)') do
    if redis.call('HSETNX', SEATS(aid), cid, ch) == 1 then redis.call('HINCRBY', a, 'load:' .. ch, 1) end
  end
end
if prev[1] ~= state then redis.call('HSET', a, 'state', state, 'since', now) end
if blank(prev[4]) or (state == 'available' and prev[1] ~= 'available') then
  redis.call('HSET', a, 'idle_since', now)
end
redis.call('HSET', a, 'reason', reason)
if state == 'acw' then
  redis.call('HSET', a, 'acw_until', ARGV[6])
  redis.call('ZADD', ACW, ARGV[6], aid)
else
  redis.call('HDEL', a, 'acw_until')
  redis.call('ZREM', ACW, aid)
end
redis.call('SADD', AGENTS, aid)
refresh(aid)
return {prev[1] or '', prev[2] or ''}
"""

# ARGV: prefix, aid, cid, now, acw_until ("" = no ACW: the contact left by transfer, not wrap-up).
# Returns {freed channel or "", previous state, new state}.
RELEASE = r"""
local aid, cid, now, acw_until = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local a = A(aid)
local ch = unseat(aid, cid)
local prev = redis.call('HGET', a, 'state')
if blank(prev) then return {ch or '', '', ''} end
if not blank(acw_until) then
  -- Finishing a contact restarts the idle clock; ACW only replaces a working state (not away/offline).
  redis.call('HSET', a, 'idle_since', now)
  if prev == 'available' or prev == 'acw' then
    redis.call('HSET', a, 'state', 'acw', 'since', now, 'reason', '', 'acw_until', acw_until)
    redis.call('ZADD', ACW, acw_until, aid)
  end
end
refresh(aid)
return {ch or '', prev, redis.call('HGET', a, 'state')}
"""

# ARGV: prefix, now. Agents whose ACW ended become available. Returns their ids.
EXPIRE_ACW = r"""
local now = ARGV[2]
local out = {}
for _, aid in ipairs(redis.call('ZRANGEBYSCORE', ACW, '-inf', now)) do
  redis.call('ZREM', ACW, aid)
  local a = A(aid)
  if redis.call('HGET', a, 'state') == 'acw' then
    redis.call('HSET', a, 'state', 'available', 'since', now, 'idle_since', now, 'reason', '')
    redis.call('HDEL', a, 'acw_until')
    refresh(aid)
    out[#out + 1] = aid
  end
end
return out
"""

# ARGV: prefix, aid, seats ("cid=channel,..."). Replace an agent's seats with what the database says it holds.
RESEAT = r"""
local aid = ARGV[2]
local a = A(aid)
if redis.call('EXISTS', a) == 0 then return 0 end
redis.call('DEL', SEATS(aid))
for _, f in ipairs(redis.call('HKEYS', a)) do
  if string.sub(f, 1, 5) == 'load:' then redis.call('HSET', a, f, 0) end
end
for cid, ch in string.gmatch(ARGV[3], '([^,=]+)=([^,]+)') do
  if redis.call('HSETNX', SEATS(aid), cid, ch) == 1 then redis.call('HINCRBY', a, 'load:' .. ch, 1) end
end
refresh(aid)
return 1
"""
