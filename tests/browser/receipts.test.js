// Receipts on the phone and the fingerprint on the wall: a phone votes, keeps
// the ack's receipt with what it cast (a recast gives a new receipt, the old
// retired), and when the poll closes it reads the public record by itself and
// says the ballot is counted as cast; a receipt the record does not hold is
// said loudly. The projector shows each final result's record fingerprint,
// the same as the record's, legible at 1920x1080 and 1280x720.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { startServer, launchBrowser, newPage, createForum, wsActor, online, noModerateViolations, noSeriousViolations, PHONE, PROJECTOR } from "./harness.js";

const SHOTS = process.env.SHOTS_DIR || null;
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

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

async function vote(phone, poll, choice) {
  await phone.locator(`[data-key="yn-${poll}-${choice}"]`).check();
  await phone.locator(`#submit-${poll}`).click();
}

test("the phone keeps its latest receipt and, once the poll closes, finds it in the record as cast", { timeout: 180000 }, async () => {
  const forum = await createForum(server, { title: "강변 공원 토론회", language: "ko", agenda: [{ title: "차 없는 일요일" }] });
  const mod = await wsActor(server, browser, { token: forum.moderator_token });
  await mod.command({ type: "start_forum" });
  await mod.command({ type: "activate_item", item: 1 });
  const display = await newPage(browser, PROJECTOR, "display");
  await display.goto(`${server.url}/display#token=${encodeURIComponent(forum.display_token)}`);
  await online(display);

  const phone = await newPage(browser, PHONE, "phone");
  await phone.goto(`${server.url}/j/${forum.join_codes.hall}`);
  await phone.locator("#join-submit").tap();
  await online(phone);

  const poll = (await mod.command({ type: "create_poll", title: "일요일마다 강변길을 막을까요?", method: { kind: "yes_no", rule: "simple" }, options: { from: "none" } })).poll;
  await mod.command({ type: "open_poll", poll });
  await vote(phone, poll, "no");
  const card = phone.locator(`#receipt-${poll}`);
  await card.locator(".receipt-code").waitFor();
  const first = await card.locator(".receipt-code").innerText();
  assert.match(first, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  assert.match(await card.innerText(), /내 투표: 반대/);

  // A change of mind: a new receipt, shown as the one that counts.
  await vote(phone, poll, "yes");
  await card.locator(".receipt-code").filter({ hasNotText: first }).waitFor();
  const latest = await card.locator(".receipt-code").innerText();
  assert.notEqual(latest, first);
  assert.match(await card.innerText(), /내 투표: 찬성/);
  await card.locator(".receipt-replaced").waitFor();
  await card.scrollIntoViewIfNeeded();
  await shot(phone, "phone-receipt-ko");
  await noModerateViolations(phone, "the phone with a receipt");

  await mod.command({ type: "close_poll", poll });
  await phone.locator(`#receipt-${poll}[data-verdict="counted"]`).waitFor({ timeout: 15000 });
  assert.match(await phone.locator(`#receipt-${poll}`).innerText(), new RegExp(`투표한 대로 집계되었습니다.*${latest}.*찬성`));
  await phone.locator(`#receipt-${poll}`).scrollIntoViewIfNeeded();
  await shot(phone, "phone-receipt-counted-ko");
  await noModerateViolations(phone, "the phone's counted receipt");

  // The record page agrees; the retired receipt is not in it.
  const record = await (await fetch(`${server.url}/api/forums/${forum.id}/record`)).text();
  assert.ok(record.includes(`"receipt":"${latest}"`));
  assert.ok(!record.includes(first), "the replaced ballot's receipt is gone");

  // The projector: the final result with its record fingerprint, as the public snapshot has it.
  const view = await (await fetch(`${server.url}/api/forums/${forum.id}`)).json();
  const fp = view.polls.find((p) => p.id === poll).outcome.record.fingerprint;
  await display.locator(`.pj-fingerprint[data-fingerprint="${fp}"]`).waitFor();
  assert.match(await display.locator(".pj-fingerprint").innerText(), /기록 지문/);
  for (const [size, viewport] of [["1920", { width: 1920, height: 1080 }], ["1280", { width: 1280, height: 720 }]]) {
    await display.setViewportSize(viewport);
    await display.waitForTimeout(300);
    const box = await display.locator(".pj-fp").boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height, `the fingerprint is on screen at ${size}`);
    const px = await display.locator(".pj-fp").evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    assert.ok(px >= viewport.height * 0.03, `legible from the back of the hall at ${size}: ${px}px`);
    await shot(display, `projector-fingerprint-ko-${size}`);
  }
  await noSeriousViolations(display, "the projector with a fingerprint");
  await display.evaluate(() => localStorage.setItem("madang.lang", "en"));
  await display.reload();
  await display.locator(".pj-fingerprint").filter({ hasText: "record fingerprint" }).waitFor();
  for (const [size, viewport] of [["1920", { width: 1920, height: 1080 }], ["1280", { width: 1280, height: 720 }]]) {
    await display.setViewportSize(viewport);
    await display.waitForTimeout(300);
    await shot(display, `projector-fingerprint-en-${size}`);
  }

  // A receipt the record does not hold (here: altered on the phone) is said loudly.
  const poll2 = (await mod.command({ type: "create_poll", title: "주차장을 줄일까요?", method: { kind: "yes_no", rule: "simple" }, options: { from: "none" } })).poll;
  await mod.command({ type: "open_poll", poll: poll2 });
  await vote(phone, poll2, "abstain");
  await phone.locator(`#receipt-${poll2} .receipt-code`).waitFor();
  await phone.evaluate(([f, p]) => {
    const all = JSON.parse(localStorage.getItem("madang.receipts"));
    all[`${f}/${p}`].receipt = "0000-0000-0000";
    localStorage.setItem("madang.receipts", JSON.stringify(all));
  }, [forum.id, poll2]);
  await mod.command({ type: "close_poll", poll: poll2 });
  await phone.locator(`#receipt-${poll2}[data-verdict="missing"]`).waitFor({ timeout: 20000 });
  assert.match(await phone.locator(`#receipt-${poll2} [role="alert"]`).innerText(), /찾을 수 없음 — 주최 측에 알려 주세요/);
  await phone.locator(`#receipt-${poll2}`).scrollIntoViewIfNeeded();
  await shot(phone, "phone-receipt-missing-ko");
  await phone.evaluate(() => localStorage.setItem("madang.lang", "en"));
  await phone.reload();
  await online(phone);
  await phone.locator(`#receipt-${poll2}[data-verdict="missing"]`).filter({ hasText: "NOT FOUND" }).waitFor();
  await phone.locator(`#receipt-${poll2}`).scrollIntoViewIfNeeded();
  await shot(phone, "phone-receipt-missing-en");
  await noModerateViolations(phone, "the phone's missing receipt (en)");

  // The end: the phone and the projector link the record page.
  await mod.command({ type: "close_forum" });
  await phone.locator("#end-record-page").waitFor();
  assert.equal(await phone.locator("#end-record-page").getAttribute("href"), `/forums/${forum.id}/record`);
  assert.match(await phone.locator(`#end-receipt-${poll}`).innerText(), /Counted as cast/);
  await display.locator(".pj-record").filter({ hasText: `/forums/${forum.id}/record` }).waitFor();
  await display.setViewportSize({ width: 1920, height: 1080 });
  await shot(display, "projector-end-en-1920");
  await shot(phone, "phone-end-en");

  assert.deepEqual([...phone.errors, ...display.errors], []);
  await mod.close();
});
