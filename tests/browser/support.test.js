// Ideas residents can support, and the end of a forum, on phones (390x844)
// and the console (1440x900): a support and its withdrawal from a phone, the
// count on every page, the console's ordering by support; the phone's end
// screen once the forum closes; a speaker's time and its overrun.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, createForum, wsActor, newPage, online, noModerateViolations, textSize, screenshot, PHONE, PROJECTOR } from "./harness.js";

const CONSOLE = { viewport: { width: 1440, height: 900 } };

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

/** A live forum with its first item active; `command` sends moderator commands over a WebSocket. */
async function forum() {
  const created = await createForum(server, { title: "강변 공원 포럼", language: "ko", agenda: [{ title: "놀이터" }] });
  const moderator = await wsActor(server, browser, { token: created.moderator_token });
  await moderator.command({ type: "start_forum" });
  await moderator.command({ type: "activate_item", item: 1 });
  return { ...created, command: moderator.command, close: moderator.close };
}

async function join(f, name) {
  const page = await newPage(browser, PHONE, `phone ${name}`);
  await page.goto(`${server.url}/j/${f.join_codes.remote}`);
  await page.locator("#join-name").fill(name);
  await page.locator("#join-submit").click();
  await online(page);
  return page;
}

const supportButton = (page, idea) => page.locator(`[data-key="support-${idea}"]`);
const countOn = (page, idea) => page.locator(`.support-count[data-support="${idea}"]`);

test("a resident supports an idea and takes it back; the count reaches every phone and the console orders by it", { timeout: 120000 }, async () => {
  const f = await forum();
  for (const text of ["그늘막을 더 설치해 주세요", "분수대", "모래밭과 그네"]) await f.command({ type: "submit_idea", text });
  const minji = await join(f, "민지");
  const joon = await join(f, "준");
  const mod = await newPage(browser, CONSOLE, "console");
  await mod.goto(`${server.url}/console#token=${encodeURIComponent(f.moderator_token)}`);
  await online(mod);

  // Minji supports idea 3: pressed at once, counted on both phones and in the console.
  const button = supportButton(minji, 3);
  await button.waitFor();
  const box = await button.boundingBox();
  assert.ok(box.width >= 44 && box.height >= 44, `the support button is ${box.width}x${box.height}`);
  assert.equal(await button.getAttribute("aria-pressed"), "false");
  await button.click();
  assert.equal(await button.getAttribute("aria-pressed"), "true");
  await countOn(minji, 3).filter({ hasText: /^1$/ }).waitFor();
  await countOn(joon, 3).filter({ hasText: /^1$/ }).waitFor();
  await joon.locator('[data-key="support-2"]').click();
  await mod.locator('#ideas [data-support="3"]').filter({ hasText: "공감 1 (온라인 1, 현장 0)" }).waitFor();
  await mod.locator('#ideas [data-support="2"]').filter({ hasText: "공감 1" }).waitFor();
  await minji.locator('[data-key="support-2"]').click();
  await mod.locator('#ideas [data-support="2"]').filter({ hasText: "공감 2" }).waitFor();

  // The projector's ideas wall shows the counts.
  const wall = await newPage(browser, PROJECTOR, "display");
  await wall.goto(`${server.url}/display#token=${encodeURIComponent(f.display_token)}`);
  await wall.locator('.wall-support[data-support="2"]').filter({ hasText: "2" }).waitFor();
  await wall.locator('.wall-support[data-support="3"]').filter({ hasText: "1" }).waitFor();
  await noModerateViolations(wall, "the ideas wall with supports");
  await screenshot(wall, "support-wall-1920");
  await wall.context().close();

  // The console orders by support on request: idea 2 (two supports) first, then 3, then 1.
  const consoleOrder = () => mod.locator("#ideas li[data-idea]").evaluateAll((lis) => lis.map((li) => Number(li.dataset.idea)));
  assert.deepEqual(await consoleOrder(), [1, 2, 3]);
  await mod.locator("#ideas-order").click();
  assert.equal(await mod.locator("#ideas-order").getAttribute("aria-pressed"), "true");
  assert.deepEqual(await consoleOrder(), [2, 3, 1]);
  await noModerateViolations(mod, "the console with supported ideas");
  await mod.locator("#ideas").scrollIntoViewIfNeeded();
  await screenshot(mod, "support-console-1440");

  // After a reload the phone still knows what Minji supports (from the server's welcome).
  await minji.evaluate(() => localStorage.removeItem("madang.p." + window.madang.client.forumId));
  await minji.reload();
  await online(minji);
  assert.equal(await supportButton(minji, 3).getAttribute("aria-pressed"), "true");
  assert.equal(await supportButton(minji, 1).getAttribute("aria-pressed"), "false");
  await minji.locator("#ideas").scrollIntoViewIfNeeded();
  await noModerateViolations(minji, "the phone with supported ideas (ko)");
  await screenshot(minji, "support-phone-ko");
  await minji.selectOption("#lang", "en");
  await minji.locator("#ideas-h").filter({ hasText: "Ideas" }).waitFor();
  assert.match(await supportButton(minji, 3).getAttribute("aria-label"), /^Support: /);
  await noModerateViolations(minji, "the phone with supported ideas (en)");
  await screenshot(minji, "support-phone-en");
  await textSize(minji, 200);
  await minji.locator("#ideas").scrollIntoViewIfNeeded();
  await noModerateViolations(minji, "the phone with supported ideas at 200% text");
  await screenshot(minji, "support-phone-en-200");
  await textSize(minji, 100);

  // Withdrawing: the count goes down everywhere.
  await supportButton(minji, 3).click();
  assert.equal(await supportButton(minji, 3).getAttribute("aria-pressed"), "false");
  await countOn(joon, 3).filter({ hasText: /^0$/ }).waitFor();
  await mod.locator('#ideas [data-support="3"]').filter({ hasText: "공감 0" }).waitFor();
  assert.deepEqual(await consoleOrder(), [2, 1, 3]);

  for (const page of [minji, joon, mod]) assert.deepEqual(page.errors, []);
  await Promise.all([minji, joon, mod].map((p) => p.context().close()));
  await f.close();
});

test("a phone shows the end of a forum: thanks, what was decided in words, where the record stays", { timeout: 90000 }, async () => {
  const f = await forum();
  const { poll } = await f.command({ type: "create_poll", title: "놀이터를 새로 지을까요?", method: { kind: "yes_no", rule: "simple" }, options: { from: "none" } });
  await f.command({ type: "open_poll", poll });
  const minji = await join(f, "민지");
  await minji.locator(`[data-poll="${poll}"]`).waitFor();
  assert.ok(await minji.locator("#end-section").isHidden());
  await minji.evaluate((p) => window.madang.cast(p, { kind: "yes_no", choice: "yes" }), poll);
  await minji.locator(`#ballot-state-${poll}[data-state="saved"]`).waitFor();
  await f.command({ type: "close_poll", poll });
  await f.command({ type: "close_forum" });

  const end = minji.locator("#end-section");
  await end.filter({ hasText: "참여해 주셔서 감사합니다" }).waitFor();
  await end.locator(`[data-end-poll="${poll}"]`).filter({ hasText: "놀이터를 새로 지을까요?: 가결" }).waitFor();
  assert.equal(await minji.locator("#end-record").textContent(), `${server.url}/j/${f.join_codes.remote}`);
  const inView = await end.boundingBox();
  assert.ok(inView && inView.y < 844, "the end screen is on the first screen of the phone");
  await noModerateViolations(minji, "the phone's end screen (ko)");
  await screenshot(minji, "end-phone-ko");
  await minji.selectOption("#lang", "en");
  await end.filter({ hasText: "Thank you for taking part" }).waitFor();
  await end.locator(`[data-end-poll="${poll}"]`).filter({ hasText: "Carried" }).waitFor();
  await noModerateViolations(minji, "the phone's end screen (en)");
  await screenshot(minji, "end-phone-en");
  assert.deepEqual(minji.errors, []);
  await minji.context().close();
  await f.close();
});

test("the speaker's phone shows their time left; once over, every phone shows how far over", { timeout: 90000 }, async () => {
  const f = await forum();
  const minji = await join(f, "민지");
  const joon = await join(f, "준");
  await minji.locator("#hand-button").click();
  await joon.locator("#hand-status").filter({ hasText: "1" }).waitFor();
  await f.command({ type: "set_speaking_limit", secs: 2 });
  await f.command({ type: "call_next" });
  await minji.locator("#speech-clock").filter({ hasText: /^남은 발언 시간: 0:0[0-2]$/ }).waitFor();
  await joon.locator("#speech-clock").filter({ hasText: /^0:0[0-2]$/ }).waitFor();
  // Past the limit the clock counts up instead of resting at 0:00.
  await joon.locator("#speech-clock").filter({ hasText: /^\+0:0[1-9] 초과$/ }).waitFor({ timeout: 8000 });
  await minji.locator("#speech-clock").filter({ hasText: /^내 발언 시간: \+0:0[1-9] 초과$/ }).waitFor();
  await minji.locator("#speak-section").scrollIntoViewIfNeeded();
  await noModerateViolations(minji, "the speaker's phone over time");
  await screenshot(minji, "speaker-phone-over-ko");
  await joon.selectOption("#lang", "en");
  await joon.locator("#speech-clock").filter({ hasText: /^\+0:\d\d over$/ }).waitFor();
  await joon.locator("#speak-section").scrollIntoViewIfNeeded();
  await screenshot(joon, "speaker-phone-over-en");
  for (const page of [minji, joon]) assert.deepEqual(page.errors, []);
  await Promise.all([minji, joon].map((p) => p.context().close()));
  await f.close();
});
