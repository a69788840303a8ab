// A committee's named vote and what the city did afterwards, in a real
// browser: the phone says the vote is named before anyone votes; after the
// forum closed, the console records the response and an action's progress;
// the phone, the record page and the projector-free record show it, with an
// overdue action marked. Phone 390x844, console 1440x900; ko and en; axe.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, createForum, wsActor, newPage, online, noModerateViolations, textSize, screenshot, PHONE } from "./harness.js";

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

test("a named vote says so before voting, and its follow-through reaches the phone and the record page", { timeout: 180000 }, async () => {
  const created = await createForum(server, { title: "공원 예산 위원회", language: "ko", agenda: [{ title: "2027 예산" }] });
  const moderator = await wsActor(server, browser, { token: created.moderator_token });
  await moderator.command({ type: "start_forum" });
  await moderator.command({ type: "activate_item", item: 1 });
  const poll = (await moderator.command({ type: "create_poll", title: "2027 공원 예산안을 채택할까요?", method: { kind: "yes_no", rule: "simple" }, options: { from: "none" }, ballots: "named" })).poll;
  await moderator.command({ type: "open_poll", poll });

  const phone = await newPage(browser, PHONE, "phone");
  await phone.goto(`${server.url}/j/${created.join_codes.hall}`);
  await phone.locator("#join-name").fill("박 의원");
  await phone.locator("#join-submit").click();
  await online(phone);
  await phone.locator(".named-notice").filter({ hasText: "이름과 함께 공개" }).waitFor();
  await screenshot(phone, "follow-named-phone-ko");
  await noModerateViolations(phone, "phone with a named vote");
  // The wall says it too, before anyone votes.
  const display = await newPage(browser, { viewport: { width: 1920, height: 1080 } }, "display");
  await display.goto(`${server.url}/display#token=${encodeURIComponent(created.display_token)}`);
  await display.locator(".pj-named").filter({ hasText: "이름과 함께 공개" }).waitFor();
  await screenshot(display, "follow-named-projector-ko");
  await noModerateViolations(display, "projector with a named vote");
  await display.context().close();
  await phone.evaluate((p) => window.madang.cast(p, { kind: "yes_no", choice: "yes" }), poll);
  await phone.locator(`#ballot-state-${poll}[data-state="saved"]`).waitFor();

  await moderator.command({ type: "close_poll", poll });
  await moderator.command({ type: "close_forum" });

  // The console, after the forum closed: the follow-through editor of the decided poll.
  const console_ = await newPage(browser, CONSOLE, "console");
  await console_.goto(`${server.url}/console#token=${encodeURIComponent(created.moderator_token)}`);
  await online(console_);
  const card = console_.locator(`[data-poll="${poll}"]`).first();
  await card.locator("summary").first().click();
  await card.locator(".follow-editor > summary").click();
  await console_.locator(`#ft-body-${poll}`).fill("공원녹지과");
  await console_.locator(`#ft-kind-${poll}`).selectOption("adopted_in_part");
  await console_.locator(`#ft-reasons-${poll}`).fill("북쪽 구간은 올해 예산에 반영하고, 남쪽 구간은 홍수 조사 후 결정합니다.");
  await console_.locator('[data-form="response"] button[type=submit]').click();
  await card.locator(".follow-response").waitFor();
  await console_.locator(`#ft-title-${poll}`).fill("북쪽 구간 나무 40그루 심기");
  await console_.locator(`#ft-date-${poll}`).fill("2026-01-31");
  await console_.locator('[data-form="action"] button[type=submit]').click();
  await card.locator(".follow-action").first().waitFor();
  await console_.locator(`#ft-title-${poll}`).fill("남쪽 구간 홍수 조사");
  await console_.locator('[data-form="action"] button[type=submit]').click();
  await card.locator(".follow-action").nth(1).waitFor();
  await console_.locator(`#ft-action-${poll}`).selectOption("2");
  await console_.locator(`#ft-status-${poll}`).selectOption("in_progress");
  await console_.locator(`#ft-note-${poll}`).fill("조사 용역 발주");
  await console_.locator('[data-form="update"] button[type=submit]').click();
  await card.locator('.follow-action[data-status="in_progress"]').waitFor();
  // The tree-planting action's date has passed and it is not done: overdue.
  assert.equal(await card.locator('.follow-action[data-overdue="true"]').count(), 1);
  await card.scrollIntoViewIfNeeded();
  await screenshot(console_, "follow-console-ko");
  await noModerateViolations(console_, "console with follow-through");

  // The phone of a voter coming back: what happened since, under the decision.
  await phone.reload();
  await phone.locator(".follow-through").first().waitFor();
  const phoneText = await phone.locator(".follow-through").first().textContent();
  assert.match(phoneText, /일부 수용/);
  assert.match(phoneText, /기한 지남/);
  await phone.locator(".follow-through").first().scrollIntoViewIfNeeded();
  await screenshot(phone, "follow-phone-ko");
  await noModerateViolations(phone, "phone with follow-through");

  // The record page: the named vote is said, and the follow-through is the same story.
  const record = await newPage(browser, CONSOLE, "record");
  await record.goto(`${server.url}/forums/${created.id}/record`);
  await record.locator(".record-poll .follow-through").waitFor();
  assert.match(await record.locator(".record-poll").first().textContent(), /기명 투표/);
  assert.equal(await record.locator(".record-poll .follow-action").count(), 2);
  await record.locator(".record-poll .follow-through").scrollIntoViewIfNeeded();
  await screenshot(record, "follow-record-ko");
  await noModerateViolations(record, "record page with follow-through");
  await record.locator("#lang").selectOption("en");
  await record.locator(".record-poll .follow-through").filter({ hasText: "Adopted in part" }).waitFor();
  await screenshot(record, "follow-record-en");
  await textSize(record, 200);
  await noModerateViolations(record, "record page with follow-through at 200% text");
  await phone.locator("#lang").selectOption("en");
  await phone.locator(".follow-through").filter({ hasText: "Overdue" }).first().waitFor();
  await screenshot(phone, "follow-phone-en");

  assert.deepEqual([...phone.errors, ...console_.errors, ...record.errors], []);
  await moderator.close();
});
