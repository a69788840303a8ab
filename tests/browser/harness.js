// Test harness: a real `madang serve` on a free loopback port with a temporary
// data dir, and headless Debian Chromium driven by playwright-core.
//
// Chromium must be installed (tests/run installs it); when it is missing the
// suite fails, it never skips.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, readFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, "../..");
export const screenshotDir = process.env.MADANG_SHOTS || join(here, "screenshots");
const require = createRequire(import.meta.url);

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitFor(check, { timeoutMs, what }) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/**
 * Start `madang serve`; returns { url, adminToken, stop, restart, ... }.
 * `restart()` kills the process (SIGKILL, by its pid: a crash) and starts a
 * new one on the same data dir and port.
 */
export async function startServer() {
  const bin = process.env.MADANG_BIN || join(root, "target/debug/madang");
  if (!existsSync(bin)) throw new Error(`the madang binary is missing at ${bin}: run \`cargo build --bin madang\` first (tests/run does)`);
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "madang-browser-"));
  const adminToken = "browser-test-admin-token";
  const url = `http://127.0.0.1:${port}`;
  let child;
  let output = "";
  let exited = null;
  const launch = async () => {
    exited = null;
    const proc = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, "--admin-token", adminToken], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" },
    });
    child = proc;
    proc.stdout.on("data", (d) => (output += d));
    proc.stderr.on("data", (d) => (output += d));
    proc.on("exit", (code, signal) => {
      if (child === proc) exited = { code, signal };
    });
    try {
      await waitFor(
        async () => {
          if (exited) throw new Error(`madang exited (${JSON.stringify(exited)}): ${output}`);
          const res = await fetch(`${url}/healthz`);
          return res.ok;
        },
        { timeoutMs: 20000, what: "madang /healthz" },
      );
    } catch (err) {
      proc.kill("SIGKILL");
      throw err;
    }
  };
  await launch();
  return {
    url,
    adminToken,
    output: () => output,
    /** Send the server process a signal (SIGSTOP and SIGCONT make it stop and resume answering). */
    signal: (sig) => child.kill(sig),
    /** Kill the server as a crash would and start it again on the same data dir and port. */
    async restart() {
      const old = child;
      const gone = new Promise((ok) => (old.exitCode !== null || old.signalCode !== null ? ok() : old.once("exit", ok)));
      old.kill("SIGKILL");
      await gone;
      await launch();
    },
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        await waitFor(() => exited !== null, { timeoutMs: 10000, what: "madang to stop" }).catch(() => child.kill("SIGKILL"));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}. Install it (apt-get install chromium fonts-noto-cjk; tests/run does this). The browser tests never skip.`);
  }
  // playwright-core gives every launch a fresh, temporary user data dir of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
  return browser;
}

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const PROJECTOR = { viewport: { width: 1920, height: 1080 } };
export const DESKTOP = { viewport: { width: 1280, height: 900 } };
export const CONSOLE = { viewport: { width: 1440, height: 900 } };
export const PROJECTOR_SIZES = [
  ["1920x1080", { width: 1920, height: 1080 }],
  ["1280x720", { width: 1280, height: 720 }],
];

/** A page in its own context (own storage), with bounded waits and console errors collected. */
export async function newPage(browser, options, name) {
  // The pages run under the server's CSP, so a violation shows up as a console error below.
  const context = await browser.newContext({ ...options, locale: "ko-KR" });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.setDefaultNavigationTimeout(15000);
  page.errors = [];
  page.on("pageerror", (err) => page.errors.push(`${name}: ${err.message}`));
  page.on("response", (res) => {
    if (res.status() >= 400) page.errors.push(`${name}: HTTP ${res.status()} for ${res.url()}`);
  });
  page.on("console", (msg) => {
    if (msg.type() === "error") page.errors.push(`${name}: console: ${msg.text()}`);
  });
  return page;
}

const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** Run axe-core (WCAG 2.0/2.1 A and AA rules); return violations of at least the given impacts (serious and critical unless told). */
export async function axeCheck(page, impacts = ["serious", "critical"]) {
  // Evaluated through the DevTools protocol, which the page's CSP does not
  // govern (an inline <script> would be refused, as it should be).
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    return await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }, resultTypes: ["violations"] });
  });
  return result.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " — " + (n.failureSummary || "").replace(/\n/g, " ")).join("\n    ")}`);
}

export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: false });
}

/** Wait until the page's connection badge says it is online. */
export const online = (page) => page.locator('#conn[data-status="online"]').waitFor();

/** Fail on any serious or critical axe-core violation. */
export async function noSeriousViolations(page, name) {
  const violations = await axeCheck(page);
  assert.deepEqual(violations, [], `axe-core found serious or critical violations on ${name}:\n${violations.join("\n")}`);
}

/** Fail on any moderate, serious or critical axe-core violation. */
export async function noModerateViolations(page, name) {
  const violations = await axeCheck(page, ["moderate", "serious", "critical"]);
  assert.deepEqual(violations, [], `axe-core found moderate or worse violations on ${name}:\n${violations.join("\n")}`);
}

/** Text at `percent` of its size, as a person's browser setting makes it (the pages size everything in rem and em). */
export async function textSize(page, percent) {
  await page.evaluate((p) => {
    document.documentElement.style.fontSize = `${p}%`;
  }, percent);
}

/**
 * Everything on the page inside the window, and nothing cut off inside a
 * box that hides overflow: the list of offenders (empty when it all fits).
 */
export async function offscreen(page) {
  return page.evaluate(() => {
    const out = [];
    const w = innerWidth;
    const hgt = innerHeight;
    const doc = document.documentElement;
    if (doc.scrollHeight > hgt) out.push(`page scrollHeight ${doc.scrollHeight} > ${hgt}`);
    if (doc.scrollWidth > w) out.push(`page scrollWidth ${doc.scrollWidth} > ${w}`);
    for (const el of document.querySelectorAll("#main *")) {
      if (el.closest(".visually-hidden")) continue;
      const r = el.getBoundingClientRect();
      if (!r.width && !r.height) continue;
      if (r.left < -0.5 || r.top < -0.5 || r.right > w + 0.5 || r.bottom > hgt + 0.5) {
        out.push(`${el.tagName.toLowerCase()}.${[...el.classList].join(".")} at ${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)}: ${el.textContent.slice(0, 40)}`);
      }
    }
    for (const box of document.querySelectorAll(".pj-stage, .pj-result, .pj-side")) {
      if (box.scrollHeight > box.clientHeight + 1 || box.scrollWidth > box.clientWidth + 1) {
        out.push(`${box.className} holds ${box.scrollWidth}×${box.scrollHeight} in ${box.clientWidth}×${box.clientHeight}`);
      }
    }
    return out.slice(0, 12);
  });
}

/** At each projector size and in each language: nothing off screen, a screenshot, axe-core clean. */
export async function everySize(display, name) {
  for (const lang of ["ko", "en"]) {
    if ((await display.evaluate(() => document.documentElement.lang)) !== lang) await display.keyboard.press("l");
    await display.waitForFunction((l) => document.documentElement.lang === l, lang);
    for (const [size, viewport] of PROJECTOR_SIZES) {
      await display.setViewportSize(viewport);
      // Redrawn and fitted within a frame of the resize; bars then animate for .8 s.
      await display.waitForFunction((v) => innerWidth === v.width && document.querySelector("#screen").childElementCount > 0, viewport);
      await display.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      assert.deepEqual(await offscreen(display), [], `${name} at ${size} in ${lang}: everything on screen`);
      await display.waitForTimeout(900);
      await screenshot(display, `projector-${name}-${size}-${lang}`);
    }
    await noModerateViolations(display, `the projector's ${name} in ${lang}`);
  }
  await display.setViewportSize(PROJECTOR_SIZES[0][1]);
  if ((await display.evaluate(() => document.documentElement.lang)) !== "ko") await display.keyboard.press("l");
}

/**
 * Controls a person could not use as drawn: two visible controls (buttons,
 * fields, links) whose boxes overlap by more than a pixel, and controls cut
 * off at the page's sides. Returns descriptions (empty when all is usable).
 */
export async function overlappingControls(page) {
  return page.evaluate(() => {
    const name = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.dataset.key ? `[${el.dataset.key}]` : ""} "${(el.textContent || el.value || "").trim().slice(0, 24)}"`;
    const controls = [...document.querySelectorAll("button, input:not([type=hidden]), select, textarea, a[href], summary")].filter((el) => {
      const r = el.getBoundingClientRect();
      // checkVisibility: the content of a closed <details> keeps a box but is not drawn.
      // A skip link waits off screen until it is focused.
      return r.width > 0 && r.height > 0 && el.checkVisibility({ visibilityProperty: true }) && !el.closest(".visually-hidden, .skip-link:not(:focus)");
    });
    const boxes = controls.map((el) => {
      const r = el.getBoundingClientRect();
      return { el, left: r.left + scrollX, right: r.right + scrollX, top: r.top + scrollY, bottom: r.bottom + scrollY };
    });
    const out = [];
    const width = document.documentElement.clientWidth;
    for (const b of boxes) if (b.left < -0.5 || b.right > width + 0.5) out.push(`${name(b.el)} cut off at ${Math.round(b.left)}–${Math.round(b.right)} of ${width}`);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i];
        const b = boxes[j];
        if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
        const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (x > 1 && y > 1) out.push(`${name(a.el)} overlaps ${name(b.el)} by ${Math.round(x)}×${Math.round(y)}`);
      }
    }
    return out.slice(0, 15);
  });
}

/** Screenshots of a page at phone and projector sizes. */
export async function shots(page, name) {
  const original = page.viewportSize();
  for (const [size, viewport] of [["phone", PHONE.viewport], ["projector", PROJECTOR.viewport]]) {
    await page.setViewportSize(viewport);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(150);
    await screenshot(page, `${name}-${size}`);
  }
  await page.setViewportSize(original);
}

/** A forum created over HTTP with the server's admin token; `body` is a create-forum request (SPEC §3). */
export async function createForum(server, body) {
  const res = await fetch(`${server.url}/api/forums`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201);
  return res.json();
}

/**
 * A WebSocket client in a page of the server's origin (so that its Origin is
 * allowed), authenticated with `auth` (`{token}` or `{join_code, name}`):
 * `command(frame)` sends a command and asserts its ack; `close()` ends it.
 */
export async function wsActor(server, browser, auth) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/healthz`);
  await page.evaluate(
    (a) =>
      new Promise((ok, fail) => {
        const ws = new WebSocket(`ws://${location.host}/ws`, "madang.v1");
        const waiting = new Map();
        let n = 0;
        const prefix = Math.random().toString(36).slice(2, 8);
        ws.onmessage = (e) => {
          const frame = JSON.parse(e.data);
          if (frame.type === "welcome") ok();
          if ((frame.type === "ack" || frame.type === "error") && waiting.has(frame.id)) waiting.get(frame.id)(frame);
        };
        ws.onerror = fail;
        ws.onopen = () => ws.send(JSON.stringify({ type: "auth", ...a }));
        window.command = (frame) =>
          new Promise((answer) => {
            // Unique across actors of one token: the server answers a repeated request id with the first answer.
            const id = `t-${prefix}-${++n}`;
            waiting.set(id, answer);
            ws.send(JSON.stringify({ ...frame, id }));
          });
      }),
    auth,
  );
  const command = async (frame) => {
    const answer = await page.evaluate((f) => window.command(f), frame);
    assert.equal(answer.type, "ack", `${frame.type}: ${JSON.stringify(answer)}`);
    return answer;
  };
  return { command, close: () => context.close() };
}
