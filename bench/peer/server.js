// A minimal Node socket.io chat relay: the peer that bench/chat_load.py --peer runs beside the sandbox.
//
// It speaks the subset of the sandbox's protocol that the bench's clients use (bench/_chat_clients.py):
//   GET/POST /login        a login form with a csrf_token and a session cookie (any name and password: login-free)
//   /desk     set_state, join_contact, send, typing, wrap_up, figures; gets `event` (assignment, message, ended)
//   /customer start, resume, send, typing, leave; gets `event` (the agent's messages)
// Every chat line and typing change is appended to SQLite (WAL, synchronous=NORMAL, as the sandbox's SQLite)
// in one transaction - the contact's next sequence number and the event row, a unique (contact, client_id)
// index for resends - before it is acked and relayed to the other side. Chats are assigned to the least
// loaded available desk with a free seat (PEER_CHAT_CAPACITY), or queued until a wrap-up frees one.
//
// What it leaves out, on purpose: roles, CSRF checks, rate limits, schemas, Redis, the event log, listeners.
// It is the floor of what a relay that records before it acks costs here, not a second implementation.
//
// Run: PEER_PORT=5001 PEER_DB=/tmp/peer.sqlite PEER_CHAT_CAPACITY=20 node bench/peer/server.js

"use strict";

const http = require("node:http");
const crypto = require("node:crypto");
const { Server } = require("socket.io");
const Database = require("better-sqlite3");

const PORT = Number(process.env.PEER_PORT || 5001);
const HOST = process.env.PEER_HOST || "127.0.0.1";
const CAPACITY = Number(process.env.PEER_CHAT_CAPACITY || 3);
const MAX_TEXT = 2000;

const db = new Database(process.env.PEER_DB || "peer.sqlite");
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.pragma("busy_timeout = 10000");
db.exec(`
  CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,
    agent_id INTEGER,
    token TEXT NOT NULL,
    customer_name TEXT,
    event_count INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_id INTEGER,
    ts REAL NOT NULL,
    client_id TEXT,
    text TEXT,
    data TEXT NOT NULL,
    UNIQUE (contact_id, seq),
    UNIQUE (contact_id, client_id)
  );
`);

const q = {
  head: db.prepare("SELECT id, status, agent_id, token FROM contacts WHERE id = ?"),
  open: db.prepare("INSERT INTO contacts (status, token, customer_name) VALUES ('queued', ?, ?)"),
  setStatus: db.prepare("UPDATE contacts SET status = ?, agent_id = ? WHERE id = ?"),
  nextSeq: db.prepare("UPDATE contacts SET event_count = event_count + 1 WHERE id = ? RETURNING event_count"),
  insert: db.prepare(
    "INSERT INTO events (contact_id, seq, type, actor, actor_id, ts, client_id, text, data) " +
      "VALUES (@contact_id, @seq, @type, @actor, @actor_id, @ts, @client_id, @text, @data)",
  ),
  byClientId: db.prepare("SELECT * FROM events WHERE contact_id = ? AND client_id = ?"),
  after: db.prepare("SELECT * FROM events WHERE contact_id = ? AND seq > ? ORDER BY seq"),
};

function rowEvent(r) {
  return { ...r, data: JSON.parse(r.data) };
}

// One transaction per event: the sequence number and the row, committed before the caller acks.
const appendTx = db.transaction((contactId, type, actor, actorId, text, clientId, data) => {
  const seq = q.nextSeq.get(contactId).event_count;
  const ev = {
    contact_id: contactId,
    seq,
    type,
    actor,
    actor_id: actorId,
    ts: Date.now() / 1000,
    client_id: clientId,
    text,
    data: JSON.stringify(data),
  };
  ev.id = Number(q.insert.run(ev).lastInsertRowid);
  return ev;
});

// (event, created): a repeated client_id returns what was recorded first.
function append(contactId, type, actor, actorId, text, clientId, data = {}) {
  try {
    const ev = appendTx(contactId, type, actor, actorId, text, clientId ?? null, data);
    ev.data = data;
    return [ev, true];
  } catch (e) {
    if (clientId && e.code === "SQLITE_CONSTRAINT_UNIQUE") {
      const r = q.byClientId.get(contactId, clientId);
      if (r) return [rowEvent(r), false];
    }
    throw e;
  }
}

function customerView(ev) {
  return {
    contact_id: ev.contact_id,
    seq: ev.seq,
    type: ev.type,
    actor: ev.actor,
    ts: ev.ts,
    client_id: ev.actor === "customer" ? ev.client_id : null,
    text: ev.type === "message" ? ev.text : null,
    data: ev.type === "typing" ? { typing: ev.data.typing } : {},
  };
}

const room = (contactId) => `contact:${contactId}`;

// ---- HTTP: the login form the bench's agents go through, and nothing else -------------------------------

let sessions = 0;
const httpServer = http.createServer((req, res) => {
  if (req.url.startsWith("/login")) {
    if (req.method === "POST") {
      req.resume();
      req.on("end", () => {
        res.writeHead(302, {
          Location: "/desk",
          "Set-Cookie": `session=peer-${++sessions}-${crypto.randomBytes(8).toString("hex")}; Path=/; HttpOnly`,
        });
        res.end();
      });
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end('<form method="post"><input type="hidden" name="csrf_token" value="peer"></form>');
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, { serveClient: false, cors: { origin: false } });
const desk = io.of("/desk");
const customer = io.of("/customer");

// ---- the ACD: least-loaded available desk with a free seat, else a FIFO queue -----------------------------

const agents = new Map(); // agent id -> { available, load }
const waiting = []; // contact ids
let nextAgentId = 0;

function pickAgent() {
  let best = null;
  for (const [id, a] of agents) {
    if (a.available && a.load < CAPACITY && (best === null || a.load < agents.get(best).load)) best = id;
  }
  return best;
}

function assign(contactId, agentId) {
  agents.get(agentId).load += 1;
  q.setStatus.run("active", agentId, contactId);
  const [ev] = append(contactId, "assignment", "system", null, null, null, { agent_id: agentId });
  const payload = { type: "contact_event", event: ev };
  desk.to(`agent:${agentId}`).emit("event", payload);
  customer.to(room(contactId)).emit("event", { type: "contact_event", event: customerView(ev) });
}

function dispatch() {
  while (waiting.length) {
    const agentId = pickAgent();
    if (agentId === null) return;
    assign(waiting.shift(), agentId);
  }
}

// ---- handlers: every one acks {ok: true, ...} or {ok: false, error} ------------------------------------

function handle(socket, name, fn) {
  socket.on(name, (data, ack) => {
    let out;
    try {
      if (data === null || typeof data !== "object") throw new Error("expected a JSON object");
      out = fn(data);
    } catch (e) {
      out = { ok: false, error: String(e.message || e) };
    }
    if (typeof ack === "function") ack(out);
  });
}

function checkText(text, clientId) {
  if (typeof text !== "string" || !text.trim()) throw new Error("empty message");
  if (text.length > MAX_TEXT) throw new Error(`message is ${text.length} characters; the limit is ${MAX_TEXT}`);
  if (clientId != null && (typeof clientId !== "string" || clientId.length > 64)) throw new Error("bad client_id");
}

desk.on("connection", (socket) => {
  const agentId = ++nextAgentId;
  agents.set(agentId, { available: false, load: 0 });
  socket.join(`agent:${agentId}`);
  socket.on("disconnect", () => {
    agents.get(agentId).available = false;
  });

  const own = (data) => {
    const head = q.head.get(Number(data.contact_id));
    if (!head || head.agent_id !== agentId) throw new Error(`contact ${data.contact_id} is not on your desk`);
    return head;
  };

  handle(socket, "set_state", (data) => {
    if (!["available", "away", "offline"].includes(data.state)) throw new Error("bad state");
    agents.get(agentId).available = data.state === "available";
    dispatch();
    return { ok: true, agent: { agent_id: agentId, state: data.state } };
  });
  handle(socket, "join_contact", (data) => {
    const head = own(data);
    socket.join(room(head.id));
    return { ok: true, contact: { id: head.id, status: head.status }, events: q.after.all(head.id, 0).map(rowEvent) };
  });
  handle(socket, "send", (data) => {
    const head = own(data);
    if (head.status !== "active") throw new Error(`contact ${head.id} is ${head.status}`);
    checkText(data.text, data.client_id);
    const [ev, created] = append(head.id, "message", "agent", agentId, data.text, data.client_id);
    if (created) {
      socket.to(room(head.id)).emit("event", { type: "contact_event", event: ev });
      customer.to(room(head.id)).emit("event", { type: "contact_event", event: customerView(ev) });
    }
    return { ok: true, event: ev, duplicate: !created };
  });
  handle(socket, "typing", (data) => {
    const head = own(data);
    if (head.status !== "active") return { ok: true, event: null };
    const [ev] = append(head.id, "typing", "agent", agentId, null, null, { typing: Boolean(data.typing) });
    socket.to(room(head.id)).emit("event", { type: "contact_event", event: ev });
    customer.to(room(head.id)).emit("event", { type: "contact_event", event: customerView(ev) });
    return { ok: true, event: ev };
  });
  handle(socket, "wrap_up", (data) => {
    const head = own(data);
    if (head.status !== "ended") throw new Error(`contact ${head.id} is ${head.status}`);
    append(head.id, "wrap_up", "agent", agentId, null, null, { code: String(data.code || ""), notes: "" });
    q.setStatus.run("closed", agentId, head.id);
    socket.leave(room(head.id));
    agents.get(agentId).load -= 1;
    dispatch();
    return { ok: true, contact: { id: head.id, status: "closed" } };
  });
  handle(socket, "figures", () => {
    const a = agents.get(agentId);
    return { ok: true, queues: { "chat.general": { waiting: waiting.length } }, agent: { agent_id: agentId, ...a } };
  });
});

customer.on("connection", (socket) => {
  const mine = (data) => {
    const head = q.head.get(Number(data.contact_id));
    if (!head || !data.token || head.token !== data.token) throw new Error("unknown contact");
    return head;
  };

  handle(socket, "start", (data) => {
    const token = crypto.randomBytes(16).toString("hex");
    const contactId = Number(q.open.run(token, String(data.name || "")).lastInsertRowid);
    socket.join(room(contactId));
    waiting.push(contactId);
    // after the ack, as the sandbox's ACD answers a start and then assigns
    setImmediate(dispatch);
    return { ok: true, contact_id: contactId, token, status: "queued" };
  });
  handle(socket, "resume", (data) => {
    const head = mine(data);
    socket.join(room(head.id));
    const events = q.after.all(head.id, Number(data.after_seq) || 0).map((r) => customerView(rowEvent(r)));
    return { ok: true, status: head.status, events };
  });
  handle(socket, "send", (data) => {
    const head = mine(data);
    if (head.status !== "queued" && head.status !== "active") throw new Error(`contact ${head.id} is ${head.status}`);
    checkText(data.text, data.client_id);
    const [ev, created] = append(head.id, "message", "customer", null, data.text, data.client_id);
    if (created) desk.to(room(head.id)).emit("event", { type: "contact_event", event: ev });
    return { ok: true, seq: ev.seq, event: customerView(ev), duplicate: !created };
  });
  handle(socket, "typing", (data) => {
    const head = mine(data);
    if (head.status !== "active") return { ok: true, event: null };
    const [ev] = append(head.id, "typing", "customer", null, null, null, { typing: Boolean(data.typing) });
    desk.to(room(head.id)).emit("event", { type: "contact_event", event: ev });
    return { ok: true, event: customerView(ev) };
  });
  handle(socket, "leave", (data) => {
    const head = mine(data);
    if (head.status === "queued") {
      const i = waiting.indexOf(head.id);
      if (i >= 0) waiting.splice(i, 1);
    } else if (head.status !== "active") {
      throw new Error(`contact ${head.id} is ${head.status}`);
    }
    const [ev] = append(head.id, "contact.ended", "customer", null, null, null, { reason: "customer_left" });
    q.setStatus.run("ended", head.agent_id, head.id);
    desk.to(room(head.id)).emit("event", { type: "contact_event", event: ev });
    socket.leave(room(head.id));
    return { ok: true, status: "ended" };
  });
});

httpServer.listen(PORT, HOST, () => {
  console.log(`peer listening on http://${HOST}:${PORT} (capacity ${CAPACITY}, pid ${process.pid})`);
});

function shutdown() {
  io.close();
  db.close();
  process.exit(0);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
