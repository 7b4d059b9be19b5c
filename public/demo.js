// The Dovetail demo: plain DOM on top of the client bundle (built into ./dovetail-client.js
// by scripts/build-client.mjs). Uses only the dev-only /dev routes for tokens and jobs.
import { createClient } from "./dovetail-client.js";

const $ = (id) => document.getElementById(id);
const ROOM = "lobby";
let client;
let user;
let jobChannel;

function describeStatus(change) {
  if (!change) return "";
  if (change.status === "reconnecting" && change.delayMs) return `reconnecting in ${(change.delayMs / 1000).toFixed(1)} s (${change.reason})`;
  if (change.status === "open") return change.reason === "resumed" ? "live (resumed)" : "live";
  return `${change.status}${change.reason && change.status !== "connecting" ? ` (${change.reason})` : ""}`;
}

function showStatus(dotId, textId, change) {
  $(dotId).dataset.status = change.status;
  $(textId).textContent = describeStatus(change);
}

async function mintToken(name) {
  const res = await fetch("/dev/token", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
  if (!res.ok) throw new Error(res.status === 404 ? "dev tokens are off (DEV_MODE is not 1)" : `token request failed (${res.status})`);
  return res.json();
}

async function authed(path, body, method = "POST") {
  const { token } = await mintToken(user.name);
  const res = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body ?? {}),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(json.error?.message ?? `${path} answered ${res.status}`);
  return json;
}

async function signIn(name) {
  const minted = await mintToken(name);
  user = minted.user;
  sessionStorage.setItem("dovetail-demo-name", name);
  let first = minted.token;
  // The token function runs again after a 4001 close: mint a fresh one then.
  client = createClient({
    url: location.origin,
    token: async () => {
      if (first) {
        const t = first;
        first = undefined;
        return t;
      }
      return (await mintToken(name)).token;
    },
  });
  $("signin").hidden = true;
  $("app").hidden = false;
  $("inbox").hidden = false;
  $("whoami").textContent = `signed in as ${user.name}`;
  document.title = `Dovetail demo - ${user.name}`;
  startInbox();
  startRoom();
  startContacts();
  const writing = sessionStorage.getItem("dovetail-demo-output");
  if (writing) followOutput(writing);
}

// ---- notifications ----

function startInbox() {
  const inbox = client.user();
  const render = (state) => {
    $("unread").textContent = String(state.unread_count);
    $("unread").classList.toggle("unread", state.unread_count > 0);
    $("inbox-list").replaceChildren(
      ...state.unread.slice(0, 5).map((n) => {
        const li = document.createElement("li");
        li.textContent = n.title ?? n.kind;
        return li;
      }),
    );
  };
  inbox.on("status", (change) => showStatus("conn-dot", "conn-text", change));
  showStatus("conn-dot", "conn-text", inbox.lastStatus);
  inbox.on("state", render);
  inbox.on("notification", (n) => toast(n.title ?? n.kind, n.body));
  $("inbox").onclick = () => {
    const ids = inbox.state.unread.map((n) => n.id);
    if (ids.length) inbox.ack(ids).catch((err) => toast("Could not mark read", err.message));
  };
  $("notify").onclick = () =>
    authed("/dev/notify", { title: `Ping at ${new Date().toLocaleTimeString()}` }).catch((err) => toast("Notification failed", err.message));
}

function toast(title, body) {
  const el = document.createElement("div");
  el.className = "toast";
  el.textContent = title;
  if (body) {
    const small = document.createElement("small");
    small.textContent = body;
    el.append(small);
  }
  $("toasts").append(el);
  setTimeout(() => el.remove(), 5000);
}

// ---- job ----

function renderJob(job) {
  if (!job) return;
  const final = ["completed", "failed", "cancelled"].includes(job.status);
  $("bar-fill").style.width = `${job.progress}%`;
  $("bar").dataset.final = final ? job.status : "";
  $("job-progress").textContent = `${Math.round(job.progress)}%`;
  $("job-stage").textContent = job.stage ?? job.title ?? "";
  $("job-eta").textContent = !final && job.eta_ms ? `about ${Math.ceil(job.eta_ms / 1000)} s left` : "";
  const note = job.cancel_requested && !final ? " (cancel requested)" : "";
  $("job-status").textContent = `${job.status}${note}`;
  $("job-status").dataset.status = job.status;
  $("cancel-job").disabled = final || job.cancel_requested;
  $("start-job").disabled = !final;
}

$("start-job").onclick = async () => {
  $("start-job").disabled = true;
  try {
    const { id } = await authed("/dev/jobs", { title: "Simulated render" });
    jobChannel?.close();
    jobChannel = client.job(id);
    jobChannel.on("status", (change) => showStatus("job-dot", "job-conn", change));
    jobChannel.on("state", renderJob);
    jobChannel.on("job:completed", () => toast("Job completed", jobChannel.state?.title));
  } catch (err) {
    $("start-job").disabled = false;
    toast("Could not start a job", err.message);
  }
};

$("cancel-job").onclick = () => {
  $("cancel-job").disabled = true;
  jobChannel?.cancel().catch((err) => toast("Cancel failed", err.message));
};

// ---- live output: a job's output stream, typed as it arrives ----

let outputJob;

function followOutput(id) {
  sessionStorage.setItem("dovetail-demo-output", id);
  outputJob?.close();
  outputJob = client.job(id);
  const output = outputJob.output;
  $("output-text").textContent = "";
  delete $("output-text").dataset.closed;
  // Once the stream is closed and read, the reader stops: that is the end, not a failure.
  const showOutputStatus = (change) =>
    output.closed ? showStatus("output-dot", "output-conn", { status: "done", reason: "" }) : showStatus("output-dot", "output-conn", change);
  output.on("status", showOutputStatus);
  // The reader keeps the whole text: after a reload it starts from the beginning of the
  // stream, so the text so far arrives at once and the rest follows live.
  output.on("data", () => {
    $("output-text").textContent = output.text;
  });
  output.on("closed", () => {
    $("output-text").dataset.closed = "true";
    showOutputStatus(output.lastStatus);
  });
  outputJob.on("state", (job) => {
    if (!job) return;
    const final = ["completed", "failed", "cancelled"].includes(job.status);
    $("output-status").textContent = `${job.status}${job.cancel_requested && !final ? " (cancel requested)" : ""}`;
    $("output-status").dataset.status = job.status;
    $("cancel-output").disabled = final || job.cancel_requested;
    $("start-output").disabled = !final;
  });
}

$("start-output").onclick = async () => {
  $("start-output").disabled = true;
  try {
    const { id } = await authed("/dev/typing", {});
    followOutput(id);
  } catch (err) {
    $("start-output").disabled = false;
    toast("Could not start writing", err.message);
  }
};

$("cancel-output").onclick = () => {
  $("cancel-output").disabled = true;
  outputJob?.cancel().catch((err) => toast("Cancel failed", err.message));
};

// ---- room ----

function startRoom() {
  const room = client.room(ROOM);
  let loadingEarlier = false;
  room.on("status", (change) => showStatus("room-dot", "room-conn", change));
  showStatus("room-dot", "room-conn", room.lastStatus);
  room.on("state", (state) => {
    $("online").replaceChildren(
      ...state.online.map((u) => {
        const span = document.createElement("span");
        span.textContent = u.name ?? u.id;
        return span;
      }),
    );
    const list = $("messages");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.replaceChildren(
      ...state.messages.map((m) => {
        const li = document.createElement("li");
        const who = document.createElement("b");
        who.textContent = m.name ?? m.from;
        li.append(who, document.createTextNode(m.text));
        return li;
      }),
    );
    if (atBottom && !loadingEarlier) list.scrollTop = list.scrollHeight;
    // The like count is the lobby's retained value: right from the snapshot, then from each like:updated.
    $("likes").textContent = String(state.retained["likes:lobby"]?.data?.likes ?? 0);
    $("earlier").hidden = !state.hasEarlier || state.messages.length === 0;
    $("history-start").hidden = state.hasEarlier;
    const typing = state.typing.map((u) => u.name ?? u.id);
    $("typing").textContent = typing.length ? `${typing.join(", ")} ${typing.length > 1 ? "are" : "is"} typing...` : "";
  });
  // `reset` also fires on the first connect (there is nothing to resume yet); only a
  // later one means the log moved past what this page had seen.
  let roomConnects = 0;
  room.on("connected", () => {
    roomConnects += 1;
  });
  room.on("reset", () => {
    if (roomConnects > 1) toast("Room reconnected", "Some messages may have been missed while away.");
  });

  $("earlier").onclick = async () => {
    loadingEarlier = true;
    $("earlier").disabled = true;
    try {
      await room.history({ limit: 20 });
    } catch (err) {
      toast("Could not load earlier messages", err.message);
    } finally {
      loadingEarlier = false;
      $("earlier").disabled = false;
    }
  };
  $("like").onclick = () => authed("/dev/like").catch((err) => toast("Like failed", err.message));

  let typingSince = 0;
  $("chat-input").oninput = () => {
    // One typing frame per 2 s while keys are pressed; receivers expire it (expires_in_ms).
    if (Date.now() - typingSince > 2000) {
      typingSince = Date.now();
      room.typing(true);
    }
  };
  $("chat-form").onsubmit = (event) => {
    event.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text) return;
    $("chat-input").value = "";
    typingSince = 0;
    room.typing(false);
    room.message(text).catch((err) => toast("Message not sent", err.message));
  };
}

// ---- contacts ----

function startContacts() {
  const names = JSON.parse(sessionStorage.getItem("dovetail-demo-contacts") ?? "[]");
  let contacts = []; // [{id, name}]
  const statuses = new Map();
  const render = () => {
    $("contacts").replaceChildren(
      ...contacts.map(({ id, name }) => {
        const status = statuses.get(id);
        const li = document.createElement("li");
        li.dataset.contact = id;
        li.dataset.online = String(Boolean(status?.online));
        const dot = document.createElement("span");
        dot.className = "dot";
        dot.dataset.online = String(Boolean(status?.online));
        const label = document.createElement("span");
        label.textContent = status?.user.name ?? name;
        const seen = document.createElement("small");
        seen.className = "muted";
        seen.textContent = status?.online ? "online" : status?.last_seen ? `last seen ${new Date(status.last_seen).toLocaleTimeString()}` : "never seen";
        li.append(dot, label, seen);
        return li;
      }),
    );
  };
  const ask = async () => {
    if (contacts.length === 0) return render();
    for (const status of await client.presence(contacts.map((c) => c.id))) statuses.set(status.user.id, status);
    render();
  };
  const save = async () => {
    ({ contacts } = await authed("/dev/contacts", { names }, "PUT"));
    sessionStorage.setItem("dovetail-demo-contacts", JSON.stringify(names));
    await ask();
  };
  const inbox = client.user();
  const heard = (status) => {
    statuses.set(status.user.id, status);
    render();
  };
  inbox.on("user:online", heard);
  inbox.on("user:offline", heard);
  // Asked again on every (re)connect: changes while the socket was away are not replayed.
  inbox.on("connected", () => ask().catch(() => {}));
  $("contact-form").onsubmit = (event) => {
    event.preventDefault();
    const name = $("contact-name").value.trim();
    if (!name || names.includes(name)) return;
    names.push(name);
    $("contact-name").value = "";
    save().catch((err) => toast("Could not add the contact", err.message));
  };
  save().catch((err) => toast("Could not load contacts", err.message));
}

// ---- sign in ----

$("signin-form").onsubmit = (event) => {
  event.preventDefault();
  signIn($("name").value.trim()).catch((err) => {
    $("signin-error").textContent = err.message;
  });
};

const remembered = sessionStorage.getItem("dovetail-demo-name");
if (remembered) signIn(remembered).catch((err) => ($("signin-error").textContent = err.message));
