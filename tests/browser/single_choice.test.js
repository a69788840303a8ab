// A single-choice poll through the three pages: the moderator builds it in the
// console, a phone picks one option, the moderator enters the hall's hand
// count (one number per option), and the projector and the phone show the
// plurality with its tie. Screens in Korean and English, checked with axe-core.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, newPage, online, noSeriousViolations, shots, screenshot, PHONE, PROJECTOR } from "./harness.js";

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

const CONSOLE = { viewport: { width: 1440, height: 900 } };
const SMALL_PROJECTOR = { width: 1280, height: 720 };

async function forumOf(title) {
  const res = await fetch(`${server.url}/api/forums`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ title, language: "ko", agenda: [{ title: "벤치 위치" }] }),
  });
  assert.equal(res.status, 201);
  return res.json();
}

async function setLanguage(page, lang) {
  await page.evaluate((l) => localStorage.setItem("madang.lang", l), lang);
  await page.reload();
  await online(page);
}

test("a single-choice poll: built, picked, hand-counted and shown with its tie", { timeout: 180000 }, async () => {
  const forum = await forumOf("벤치 포럼");
  const mod = await newPage(browser, CONSOLE, "console");
  await mod.goto(`${server.url}/console#token=${encodeURIComponent(forum.moderator_token)}&display=${encodeURIComponent(forum.display_token)}`);
  await online(mod);
  const display = await newPage(browser, PROJECTOR, "display");
  await display.goto(`${server.url}/display#token=${encodeURIComponent(forum.display_token)}`);
  await online(display);
  await mod.locator("#start-forum").click();
  await mod.locator('[data-key="act-1"]').click();

  const phone = await newPage(browser, PHONE, "phone");
  await phone.goto(`${server.url}/j/${forum.join_codes.remote}`);
  await phone.locator("#join-submit").tap();
  await online(phone);

  await mod.locator("#poll-title").fill("벤치를 어디에 둘까요?");
  await mod.locator("#poll-method").selectOption("single_choice");
  await mod.locator('input[name="poll-source"][value="fixed"]').check();
  await mod.locator("#poll-labels").fill("연못 옆\n참나무 아래\n정문 근처");
  await mod.locator("#poll-create").click();
  await mod.locator('[data-key="open-1"]').click();
  await mod.locator('#polls [data-poll="1"] .badge').filter({ hasText: "단일 선택" }).waitFor();

  // The phone: one radio per option, the ballot is sent only once one is picked.
  await phone.locator('[data-key="sc-1-2"]').waitFor();
  assert.equal(await phone.locator("#submit-1").isDisabled(), true, "nothing picked, nothing to send");
  await phone.locator('[data-key="sc-1-1"]').check();
  await phone.locator('[data-key="sc-1-2"]').check();
  assert.equal(await phone.locator('[data-key="sc-1-1"]').isChecked(), false, "one pick only");
  await phone.locator("#submit-1").tap();
  await phone.locator('#ballot-state-1[data-state="saved"]').waitFor();
  await shots(phone, "single-choice-ballot-ko");
  await noSeriousViolations(phone, "the phone's single-choice ballot");

  // The hand count: picks per option, no separate number of people (one mark each).
  const form = mod.locator('[data-hall-form="1"]');
  await form.waitFor();
  assert.equal(await mod.locator("#hc-1-people").count(), 0, "people are the sum of the picks");
  // More picks than the hall holds: refused, explained in the page's language with the rule.
  await mod.locator("#headcount").fill("10");
  await mod.locator("#headcount-set").click();
  await mod.locator("#hc-1-o1").fill("30");
  await mod.locator("#hc-1-enter").click();
  await mod.locator('#hc-1-status[data-state="error"]').waitFor();
  const refused = await mod.locator("#hc-1-status").textContent();
  assert.match(refused, /수기 집계 인원이 현장 인원보다 많습니다/, refused);
  assert.match(refused, /hall_count\.over_headcount/, refused);
  assert.doesNotMatch(refused, /people counted by hand is more/, "not the server's English message");
  await screenshot(mod, "single-choice-console-refused-ko");
  await noSeriousViolations(mod, "the console with a refused hand count");
  await mod.locator("#hc-1-o1").fill("3");
  await mod.locator("#hc-1-o2").fill("2");
  await mod.locator("#hc-1-enter").click();
  await mod.locator('#hc-1-status[data-state="saved"]').waitFor();
  await mod.locator("#hall-lines-1").filter({ hasText: "수기 집계 5명" }).waitFor();

  // 3 + (2 + the phone's pick) = a tie between the first two options.
  await display.locator(".tally-ballots").filter({ hasText: "6표" }).waitFor();
  const rows = await display.evaluate(() =>
    [...document.querySelectorAll("#results .standings > li")].map((li) => [Number(li.dataset.option), li.querySelector(".bar-value").textContent.trim()]),
  );
  assert.deepEqual(rows, [[1, "3"], [2, "3"], [3, "0"]], "the projector's counts, in order");
  await shots(display, "single-choice-display-ko");
  await display.setViewportSize(SMALL_PROJECTOR);
  await screenshot(display, "single-choice-display-ko-1280");
  await noSeriousViolations(display, "the projector with a single-choice tally");
  await mod.locator(`[data-hall-form="1"]`).scrollIntoViewIfNeeded();
  await screenshot(mod, "single-choice-console-ko");
  await noSeriousViolations(mod, "the console with a single-choice hall count");

  // The same screens in English.
  for (const page of [mod, phone, display]) await setLanguage(page, "en");
  await mod.locator('#polls [data-poll="1"] .badge').filter({ hasText: "Single choice" }).waitFor();
  await mod.locator(`[data-hall-form="1"]`).scrollIntoViewIfNeeded();
  await screenshot(mod, "single-choice-console-en");
  await noSeriousViolations(mod, "the English console");
  await phone.locator("#polls").filter({ hasText: "Choose one." }).waitFor();
  await shots(phone, "single-choice-ballot-en");
  await noSeriousViolations(phone, "the English phone");
  await display.setViewportSize(PROJECTOR.viewport);
  await shots(display, "single-choice-display-en");
  await noSeriousViolations(display, "the English projector");

  for (const page of [mod, phone, display]) assert.deepEqual(page.errors, [], "no page errors");
});
