// What the browser does: the official client, over WebSocket, as an app
// would use it. Each check records pass/fail and what it saw; the summary
// goes to window.__result for run.mjs (and to the page, for a human).
import { headers, NoRespondersError, wsconnect } from "@nats-io/nats-core";

const wsUrl = new URLSearchParams(location.search).get("ws");
const result = { ok: false, url: wsUrl, userAgent: navigator.userAgent, checks: {}, events: [] };
const te = new TextEncoder();
// What is done so far, for run.mjs to show if the page never finishes.
window.__progress = result;

// A check that hangs is a failure with a name, not a run.mjs timeout.
function within(ms, what, promise) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function check(name, fn) {
  const started = performance.now();
  try {
    result.checks[name] = { pass: true, details: await within(5000, name, fn()) };
  } catch (err) {
    result.checks[name] = { pass: false, error: `${err?.name}: ${err?.message}`, stack: err?.stack };
  }
  result.checks[name].ms = Math.round(performance.now() - started);
  return result.checks[name].pass;
}

function expect(cond, what, seen) {
  if (!cond) throw new Error(`${what} (saw ${JSON.stringify(seen)})`);
}

// The same bytes as run.mjs's noise(): a linear congruential generator.
function noise(n) {
  let x = 1;
  return Uint8Array.from({ length: n }, () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24);
}

// The first message of a subscription.
async function first(sub) {
  for await (const m of sub) return m;
  throw new Error("subscription ended without a message");
}

async function main() {
  let nc;
  // reconnect off: a server that drops the socket must fail the run, not
  // be papered over by the client reconnecting.
  const connected = await check("connect", async () => {
    nc = await wsconnect({ servers: wsUrl, name: "natsd-browser-test", reconnect: false, timeout: 5000 });
    (async () => {
      for await (const s of nc.status()) result.events.push({ type: s.type, data: String(s.data ?? s.error ?? "") });
    })();
    const { server_id, version, proto, headers: hdrs, max_payload } = nc.info;
    // Headers are what the header and no-responders checks need.
    expect(hdrs === true, "INFO has headers: true", nc.info);
    return { server_id, version, proto, headers: hdrs, max_payload, rtt_ms: await nc.rtt() };
  });
  if (!connected) return;

  await check("pubsub", async () => {
    const sub = nc.subscribe("browser.pubsub", { max: 1 });
    const h = headers();
    h.set("X-Browser", "chromium");
    h.append("X-Multi", "a");
    h.append("X-Multi", "b");
    nc.publish("browser.pubsub", "hello from the browser", { headers: h });
    const m = await first(sub);
    const seen = { subject: m.subject, data: m.string(), browser: m.headers?.get("X-Browser"), multi: m.headers?.values("X-Multi") };
    expect(seen.subject === "browser.pubsub", "the subject", seen);
    expect(seen.data === "hello from the browser", "the payload", seen);
    expect(seen.browser === "chromium", "header X-Browser", seen);
    expect(JSON.stringify(seen.multi) === '["a","b"]', "header X-Multi twice, in order", seen);
    return seen;
  });

  // 200000 pseudo-random bytes (so every byte value, and incompressible):
  // WebSocket frames with 64-bit lengths both ways, no text decoding on the
  // way, and Chromium may send them fragmented (continuation frames).
  await check("binary-large", async () => {
    const payload = noise(200_000);
    const sub = nc.subscribe("browser.binary", { max: 1 });
    nc.publish("browser.binary", payload);
    const got = (await first(sub)).data;
    const bad = got.findIndex((b, i) => b !== payload[i]);
    expect(got.length === payload.length && bad === -1, "the same 200000 bytes", { length: got.length, firstDifference: bad });
    return { length: got.length };
  });

  await check("request-reply", async () => {
    let asked = null;
    nc.subscribe("browser.echo", {
      callback: (err, m) => {
        asked = { reply: m.reply, id: m.headers?.get("X-Request-Id") };
        const h = headers();
        h.set("X-Request-Id", m.headers?.get("X-Request-Id") ?? "none");
        m.respond(te.encode(`echo: ${m.string()}`), { headers: h });
      },
    });
    const h = headers();
    h.set("X-Request-Id", "42");
    const r = await nc.request("browser.echo", "ping", { timeout: 3000, headers: h });
    const seen = { data: r.string(), id: r.headers?.get("X-Request-Id"), asked };
    expect(seen.data === "echo: ping", "the reply's payload", seen);
    expect(seen.id === "42", "the reply's header", seen);
    expect(asked?.reply?.startsWith("_INBOX."), "the request's reply subject", seen);
    return seen;
  });

  // No subscriber: the server answers at once with a 503 status (the client
  // asked for no_responders), which the client turns into a RequestError
  // whose cause is a NoRespondersError; a timeout instead is a failure.
  await check("no-responders", async () => {
    const started = performance.now();
    try {
      const r = await nc.request("browser.nobody", "anyone?", { timeout: 3000 });
      throw new Error(`got a reply: ${r.string()}`);
    } catch (err) {
      const nr = err instanceof NoRespondersError || err?.cause instanceof NoRespondersError;
      const seen = { name: err?.name, cause: err?.cause?.name, message: err?.message, ms: Math.round(performance.now() - started) };
      expect(nr, "NoRespondersError", seen);
      return seen;
    }
  });

  // A clean goodbye: drain flushes, the socket closes, closed() has no error.
  await check("drain-close", async () => {
    await nc.drain();
    const err = await nc.closed();
    expect(!err, "closed without error", String(err));
    return { closed: nc.isClosed() };
  });
}

try {
  await main();
} catch (err) {
  result.error = String(err?.stack ?? err);
}
// Every check ran and passed (a failed connect leaves the others unrun).
const all = ["connect", "pubsub", "binary-large", "request-reply", "no-responders", "drain-close"];
result.ok = !result.error && all.every((n) => result.checks[n]?.pass === true);
document.getElementById("out").textContent = JSON.stringify(result, null, 2);
window.__result = result;
