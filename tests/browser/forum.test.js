// A whole forum in a real browser: the moderator console, two participants
// (one on a phone), and the projector display.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import {
  startServer, launchBrowser, newPage, online, noSeriousViolations, shots, screenshot, PHONE, PROJECTOR, DESKTOP,
} from "./harness.js";

let server;
let browser;
const pages = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

async function open(options, name) {
  const page = await newPage(browser, options, name);
  pages.push(page);
  return page;
}

/** Screenshots at the phone and the projector size. */
test("a forum from creation to outcome, in a real browser", { timeout: 240000 }, async () => {
  // 1. The organizer URL opens the landing page, which creates the forum and opens the console.
  const mod = await open(DESKTOP, "console");
  await mod.goto(`${server.url}/#admin_token=${server.adminToken}`);
  assert.equal(await mod.locator("#token").inputValue(), server.adminToken);
  await noSeriousViolations(mod, "the organizer page");
  await shots(mod, "organizer");
  await mod.locator("#title").fill("청계천 보행 포럼");
  await mod.locator("#language").selectOption("ko");
  await mod.locator("#agenda").fill("횡단보도\n그늘과 쉼터");
  await mod.locator("#create-submit").click();
  await mod.waitForURL(/\/console#token=/);
  await online(mod);
  await mod.locator("#forum-title").filter({ hasText: "청계천 보행 포럼" }).waitFor();
  assert.equal(await mod.locator("html").getAttribute("lang"), "ko");

  // 2. Build the agenda: add an item, move it up.
  await mod.locator("#item-title").fill("예산");
  await mod.locator("#item-minutes").fill("10");
  await mod.locator("#add-item-submit").click();
  await mod.locator("#agenda > li").nth(2).filter({ hasText: "예산" }).waitFor();
  await mod.locator('[data-key="up-3"]').click();
  await mod.locator("#agenda > li").nth(1).filter({ hasText: "예산" }).waitFor();

  const remoteLink = (await mod.locator("#link-remote").textContent()).trim();
  const hallLink = (await mod.locator("#link-hall").textContent()).trim();
  const displayLink = (await mod.locator("#link-display").textContent()).trim();
  assert.match(remoteLink, /\/j\/[A-Z2-9]{6}$/);
  assert.match(displayLink, /\/display#token=/);
  const qr = await fetch(`${server.url}/api/qr.svg?code=${remoteLink.split("/j/")[1]}`);
  assert.equal(qr.status, 200);
  assert.match(qr.headers.get("content-type"), /image\/svg\+xml/);
  assert.match(await qr.text(), /<svg/);

  // 3. The projector display opens from its link and needs nothing else.
  const display = await open(PROJECTOR, "display");
  await display.goto(displayLink);
  await online(display);
  await display.locator("#join-code").filter({ hasText: hallLink.split("/j/")[1] }).waitFor();

  // 4. Start, pre-moderate, activate the first item, start its timer.
  await mod.locator("#start-forum").click();
  await mod.locator("#forum-status").filter({ hasText: "진행 중" }).waitFor();
  await mod.locator("#premod").check();
  await mod.locator('[data-key="act-1"]').click();
  await display.locator("#current-title").filter({ hasText: "횡단보도" }).waitFor();

  // 5. Two participants join: one at home on a phone, one in the hall on a laptop.
  const phone = await open(PHONE, "participant-phone");
  await phone.goto(remoteLink);
  await phone.locator("#join-name").fill("지우");
  await phone.locator("#join-submit").tap();
  await online(phone);
  await phone.locator("#current").filter({ hasText: "횡단보도" }).waitFor();
  const phoneId = await phone.evaluate(() => window.madang.client.welcome.participant.id);

  const laptop = await open(DESKTOP, "participant-laptop");
  await laptop.goto(hallLink);
  assert.equal(await laptop.locator("#join-code").inputValue(), hallLink.split("/j/")[1], "the QR link fills in the code");
  await noSeriousViolations(laptop, "the join form");
  await shots(laptop, "join");
  await laptop.locator("#join-name").fill("Minho");
  await laptop.locator("#join-submit").click();
  await online(laptop);
  await display.locator("#counts").filter({ hasText: "현장 1명 · 온라인 1명" }).waitFor();

  // 6. Ideas wait for approval; the moderator approves them (one with the `a` shortcut).
  for (const [page, text] of [[phone, "학교 앞 고원식 횡단보도"], [laptop, "그늘 아래 벤치"], [phone, "보행 신호 시간 연장"]]) {
    await page.locator("#idea-text").fill(text);
    await page.locator("#idea-submit").click();
    await page.locator("#idea-toast").filter({ hasText: "승인" }).waitFor();
  }
  await mod.locator("#queue li").nth(2).waitFor();
  await mod.locator("body").click({ position: { x: 5, y: 300 } });
  await mod.keyboard.press("a");
  await mod.locator("#queue li").nth(1).waitFor();
  await mod.locator("#queue li").nth(2).waitFor({ state: "detached" });
  await mod.locator('[data-key="ap-2"]').click();
  await mod.locator('[data-key="ap-3"]').click();
  await mod.locator("#queue").filter({ hasText: "검토할 의견이 없습니다" }).waitFor();
  await phone.locator("#ideas li").nth(2).waitFor();
  await laptop.locator("#ideas li").nth(2).waitFor();

  // 6b. The speaker queue and the temperature check.
  await laptop.locator("#hand-button").click();
  await laptop.locator("#hand-status").filter({ hasText: "대기 순서 1번째" }).waitFor();
  await phone.locator("#hand-button").tap();
  await phone.locator("#hand-status").filter({ hasText: "대기 순서 2번째" }).waitFor();
  await mod.locator("#speakers li").nth(1).waitFor();
  await mod.locator("body").click({ position: { x: 5, y: 300 } });
  await mod.keyboard.press("k");
  await laptop.locator("#hand-status.floor").waitFor();
  await phone.locator("#hand-status").filter({ hasText: "대기 순서 1번째" }).waitFor();
  await display.locator(".speaker-now").filter({ hasText: "Minho" }).waitFor();
  await phone.locator('[data-key="sig-green"]').tap();
  await laptop.locator('[data-key="sig-red"]').click();
  await phone.locator('[data-key="sig-green"][aria-pressed="true"]').waitFor();
  await display.locator("#temperature .temp-green .bar-value").filter({ hasText: "1" }).waitFor();
  await display.locator("#temperature .temp-red .bar-value").filter({ hasText: "1" }).waitFor();

  // 7. A ranked poll over the ideas, opened.
  await mod.locator("#poll-title").fill("무엇부터 할까요?");
  await mod.locator("#poll-method").selectOption("ranked");
  await mod.locator("#poll-create").click();
  await mod.locator('[data-key="open-1"]').click();
  await mod.locator('[data-poll="1"] .badge').filter({ hasText: "진행 중" }).waitFor();
  await display.locator("#poll-title").filter({ hasText: "무엇부터 할까요?" }).waitFor();

  // 8. The phone ranks by tap-to-order and by keyboard: [3, 1, 2], then option 2 up: [3, 2, 1].
  const rankButton = (page, option) => page.locator(`#polls [data-key="rk-add-1-${option}"]`);
  await rankButton(phone, 3).tap();
  await rankButton(phone, 1).tap();
  await rankButton(phone, 2).tap();
  await phone.locator('[data-key="rk-h-1-2"]').focus();
  await phone.keyboard.press("ArrowUp");
  await expectRanking(phone, [3, 2, 1]);
  assert.equal(await phone.evaluate(() => document.activeElement?.dataset.key), "rk-h-1-2", "focus stays on the moved item's handle");
  await phone.locator("#submit-1").tap();
  await phone.locator('#ballot-state-1[data-state="saved"]').waitFor();

  // The projector's standings show it: option 3 ("보행 신호 시간 연장") leads with 2 Borda points.
  await display.locator(".tally-ballots").filter({ hasText: "1표" }).waitFor();
  await display.locator(".tally-ballots").filter({ hasText: "온라인 1" }).waitFor();
  await display.locator('.standings li.leader[data-option="3"]').waitFor();
  assert.match(await display.locator(".standings li").first().textContent(), /보행 신호 시간 연장.*2점/);
  await display.locator('.standings li[data-option="2"]').filter({ hasText: "1점" }).waitFor();

  // The laptop ranks the whole list by keyboard only: Enter on each "add" button.
  for (const option of [1, 3, 2]) {
    await rankButton(laptop, option).focus();
    await laptop.keyboard.press("Enter");
  }
  await expectRanking(laptop, [1, 3, 2]);
  await laptop.keyboard.press("Enter"); // focus moved to the submit button after the last option
  await laptop.locator('#ballot-state-1[data-state="saved"]').waitFor();
  await display.locator(".tally-ballots").filter({ hasText: "2표" }).waitFor();
  await display.locator('.standings li.leader[data-option="3"]').filter({ hasText: "3점" }).waitFor();

  // 9. A flaky connection: the phone goes offline, changes its ballot, comes back; nothing is lost.
  await phone.context().setOffline(true);
  await phone.evaluate(() => window.madang.client.drop());
  await phone.locator('#conn[data-status="offline"]').waitFor();
  await phone.locator('[data-key="rk-u-1-1"]').tap(); // [3, 1, 2]
  await expectRanking(phone, [3, 1, 2]);
  await phone.locator("#submit-1").tap();
  await phone.locator('#ballot-state-1[data-state="sent"]').waitFor();
  const pendingWhileOffline = await phone.evaluate(() => [...window.madang.client.pending.keys()]);
  assert.equal(pendingWhileOffline.length, 1);
  await phone.context().setOffline(false);
  await online(phone);
  await phone.locator('#ballot-state-1[data-state="saved"]').waitFor();
  // Phone [3,1,2] + laptop [1,3,2]: option 1 and 3 tie with 3 points each.
  await display.locator('.standings li[data-option="1"]').filter({ hasText: "3점" }).waitFor();
  await display.locator(".tally-ballots").filter({ hasText: "2표" }).waitFor();

  // A reload keeps the identity, the ballot's state and resumes from last_seq.
  const lastSeq = await phone.evaluate(() => window.madang.client.state.seq);
  await phone.reload();
  await online(phone);
  assert.equal(await phone.evaluate(() => window.madang.client.welcome.participant.id), phoneId, "same participant after reload");
  assert.equal(await phone.evaluate(() => window.madang.client.welcome.snapshot), undefined, "resumed by replay, not a fresh snapshot");
  assert.ok((await phone.evaluate(() => window.madang.client.state.seq)) >= lastSeq);
  await phone.locator('#ballot-state-1[data-state="saved"]').waitFor();
  await phone.locator("#whoami").filter({ hasText: `#${phoneId}` }).waitFor();
  await display.locator(".tally-ballots").filter({ hasText: "2표" }).waitFor();

  // 10. Languages: the person's switch changes every string, both ways.
  await phone.locator("#lang").selectOption("en");
  await phone.locator("#polls-h").filter({ hasText: "Vote" }).waitFor();
  await phone.locator('#ballot-state-1[data-state="saved"]').filter({ hasText: "Your vote is saved" }).waitFor();
  assert.equal(await phone.locator("html").getAttribute("lang"), "en");
  await shots(phone, "participant-en");
  await phone.locator("#lang").selectOption("ko");
  await phone.locator("#polls-h").filter({ hasText: "투표" }).waitFor();
  await mod.locator("#lang").selectOption("en");
  await mod.locator("#start-forum").filter({ hasText: "Start forum" }).waitFor();
  await mod.locator("#lang").selectOption("ko");

  // 11. Accessibility of every page while the poll is open, and screenshots.
  await noSeriousViolations(phone, "the participant page (phone)");
  await noSeriousViolations(laptop, "the participant page (laptop)");
  await noSeriousViolations(display, "the display");
  await noSeriousViolations(mod, "the moderator console");
  await shots(phone, "participant");
  await shots(display, "display");
  await shots(mod, "console");
  await display.evaluate(() => (document.documentElement.dataset.theme = "dark"));
  await screenshot(display, "display-dark-projector");
  await noSeriousViolations(display, "the display in dark mode");

  // 12. Close the poll: the outcome stays on the projector; export it.
  await mod.locator('[data-key="close-1"]').click();
  await mod.locator('[data-poll="1"] .badge').filter({ hasText: "마감" }).waitFor();
  await display.locator(".tally-ballots").filter({ hasText: "2표" }).waitFor();
  await phone.locator('[data-poll="1"] .badge').filter({ hasText: "마감" }).waitFor();
  const [download] = await Promise.all([mod.waitForEvent("download"), mod.locator("#export-json").click()]);
  const outcome = JSON.parse(await readFile(await download.path(), "utf8"));
  assert.equal(outcome.polls[0].outcome.tally.ballots, 2);
  assert.equal(outcome.polls[0].outcome.tally.result.method, "ranked");

  const errors = pages.flatMap((p) => p.errors).filter((e) => !/WebSocket connection|ERR_INTERNET_DISCONNECTED|net::ERR_|Failed to load resource/.test(e));
  assert.deepEqual(errors, [], "no script errors on any page");
});

async function expectRanking(page, expected) {
  const list = page.locator("#rank-list-1 > li");
  const actual = () => page.evaluate(() => [...document.querySelectorAll("#rank-list-1 > li")].map((li) => Number(li.dataset.option)));
  await page.waitForFunction(
    (want) => JSON.stringify([...document.querySelectorAll("#rank-list-1 > li")].map((li) => Number(li.dataset.option))) === JSON.stringify(want),
    expected,
    { timeout: 5000 },
  ).catch(async (err) => {
    await screenshot(page, "failure-ranking");
    throw new Error(`ranking is ${JSON.stringify(await actual())}, expected ${JSON.stringify(expected)}: ${err.message}`);
  });
  assert.equal(await list.count(), expected.length);
}
