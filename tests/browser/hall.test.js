// The hybrid forum in a real browser: the moderator enters hall counts (paper
// rankings with counts), corrects them, checks them against the headcount,
// runs the speaker queue, edits a pending item; the projector shows the
// standings with the hall/online split and an instant-runoff poll's rounds.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
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

/** Wait until the element's text (whitespace collapsed) is exactly `want`; a bounded wait with a clear failure. */
async function expectText(locator, want, what) {
  try {
    await locator.filter({ hasText: want }).first().waitFor({ timeout: 8000 });
  } catch {
    const got = (await locator.allTextContents().catch(() => [])).map((s) => s.replace(/\s+/g, " ").trim());
    assert.fail(`${what}: expected text containing ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
}

/** The projector's standings as [option, points text, sub-line text] rows. */
async function standings(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("#results .standings > li")].map((li) => [
      Number(li.dataset.option),
      li.querySelector(".bar-value").textContent.trim(),
      li.querySelector(".bar-sub")?.textContent.trim() ?? "",
    ]),
  );
}

async function waitForStandings(page, want, what) {
  try {
    await page.waitForFunction(
      (w) => JSON.stringify([...document.querySelectorAll("#results .standings > li")].map((li) => [Number(li.dataset.option), li.querySelector(".bar-value").textContent.trim(), li.querySelector(".bar-sub")?.textContent.trim() ?? ""])) === JSON.stringify(w),
      want,
      { timeout: 8000 },
    );
  } catch {
    await screenshot(page, "failure-standings");
    assert.deepEqual(await standings(page), want, what);
  }
}

/** Set a paper ranking row of the console's hall count form: count and ranking (option ids, in order). */
async function paperRow(mod, poll, row, count, ranking) {
  await mod.locator(`[data-key="hc-${poll}-r${row}-count"]`).fill(String(count));
  for (let i = 0; i < ranking.length; i++) {
    await mod.locator(`[data-key="hc-${poll}-r${row}-k${i}"]`).selectOption(ranking[i] === null ? "" : String(ranking[i]));
  }
  const actual = await mod.evaluate(
    ([p, r, n]) => Array.from({ length: n }, (_, i) => document.querySelector(`[data-key="hc-${p}-r${r}-k${i}"]`).value).map((v) => (v === "" ? null : Number(v))),
    [poll, row, ranking.length],
  );
  assert.deepEqual(actual, ranking, `paper ranking ${row + 1} of poll ${poll}`);
}

async function createPoll(mod, { title, tally, labels }) {
  await mod.locator("#poll-title").fill(title);
  await mod.locator("#poll-method").selectOption("ranked");
  await mod.locator("#poll-tally").selectOption(tally);
  await mod.locator('input[name="poll-source"][value="fixed"]').check();
  await mod.locator("#poll-labels").fill(labels.join("\n"));
  await mod.locator("#poll-create").click();
}

test("hall counts, the headcount check, instant-runoff rounds and the speaker queue", { timeout: 240000 }, async () => {
  const res = await fetch(`${server.url}/api/forums`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ title: "을지로 공원 포럼", language: "ko", agenda: [{ title: "공원 시설" }, { title: "예산", timebox_secs: 600 }] }),
  });
  assert.equal(res.status, 201);
  const forum = await res.json();

  const mod = await open(DESKTOP, "console");
  await mod.goto(`${server.url}/console#token=${encodeURIComponent(forum.moderator_token)}&display=${encodeURIComponent(forum.display_token)}`);
  await online(mod);
  const display = await open(PROJECTOR, "display");
  await display.goto(`${server.url}/display#token=${encodeURIComponent(forum.display_token)}`);
  await online(display);

  await mod.locator("#start-forum").click();
  await mod.locator("#forum-status").filter({ hasText: "진행 중" }).waitFor();
  await mod.locator('[data-key="act-1"]').click();
  await display.locator("#current-title").filter({ hasText: "공원 시설" }).waitFor();

  // Edit the pending item: title and time box.
  await mod.locator('[data-key="edit-2"]').click();
  assert.equal(await mod.evaluate(() => document.activeElement?.id), "edit-title-2", "focus goes to the title field");
  await mod.locator("#edit-title-2").fill("예산 배분");
  await mod.locator("#edit-min-2").fill("15");
  await mod.locator('[data-key="edit-save-2"]').click();
  await expectText(mod.locator('#agenda [data-item="2"]'), "예산 배분", "the edited item");
  await expectText(mod.locator('#agenda [data-item="2"]'), "15′", "the edited time box");
  await expectText(display.locator("#agenda"), "예산 배분", "the projector's agenda");

  // One participant online (phone), one in the hall with a device.
  const phone = await open(PHONE, "participant-phone");
  await phone.goto(`${server.url}/j/${forum.join_codes.remote}`);
  await phone.locator("#join-name").fill("서연");
  await phone.locator("#join-submit").tap();
  await online(phone);
  const hallPhone = await open(PHONE, "participant-hall");
  await hallPhone.goto(`${server.url}/j/${forum.join_codes.hall}`);
  await hallPhone.locator("#join-submit").tap();
  await online(hallPhone);
  await display.locator("#counts").filter({ hasText: "현장 1명 · 온라인 1명" }).waitFor();

  // 1. A ranked (Borda) poll; both devices vote.
  await createPoll(mod, { title: "무엇을 먼저 만들까요?", tally: "borda", labels: ["놀이터", "산책로", "쉼터"] });
  await mod.locator('[data-key="open-1"]').click();
  await mod.locator('#polls [data-poll="1"] .badge').filter({ hasText: "진행 중" }).waitFor();
  for (const [page, ranking] of [[phone, [1, 2, 3]], [hallPhone, [2, 1, 3]]]) {
    for (const option of ranking) await page.locator(`#polls [data-key="rk-add-1-${option}"]`).tap();
    await page.locator("#submit-1").tap();
    await page.locator('#ballot-state-1[data-state="saved"]').waitFor();
  }
  await expectText(display.locator(".tally-ballots"), "2표", "two device ballots");

  // 2. The hall count: paper rankings with counts. First a mistake the server refuses, shown by the form.
  const form = mod.locator('[data-hall-form="1"]');
  await form.waitFor();
  await paperRow(mod, 1, 0, 12, [3, 1, null]);
  await mod.locator("#hc-1-enter").click();
  await mod.locator('#hc-1-status[data-state="error"]').waitFor();
  await expectText(mod.locator("#hc-1-status"), "ranked.incomplete", "the refused paper ranking names its rule");
  await expectText(mod.locator("#hc-1-status"), "종이 순위표 1: 모든 선택지에 순위를 매기세요", "the refusal names the ranking, in the page's language");
  await screenshot(mod, "console-hall-error-desktop");
  await noSeriousViolations(mod, "the console with a refused hall count");

  await paperRow(mod, 1, 0, 12, [3, 1, 2]);
  await mod.locator("#hc-1-add").click();
  assert.equal(await mod.evaluate(() => document.activeElement?.dataset.key), "hc-1-r1-count", "focus goes to the new row");
  await paperRow(mod, 1, 1, 5, [2, 3, 1]);
  await mod.locator("#hc-1-enter").click();
  await mod.locator('#hc-1-status[data-state="saved"]').waitFor();
  await expectText(mod.locator("#hall-lines-1"), "수기 집계 17명", "the count in force");

  // Borda (2, 1, 0 points): devices [1,2,3] online and [2,1,3] in the hall; paper 12 × [3,1,2] and 5 × [2,3,1].
  await expectText(display.locator(".tally-ballots"), "19표 (현장 18, 그중 수기 17 · 온라인 1)", "ballots and the hall/online split");
  await waitForStandings(
    display,
    [
      [3, "29점", "1순위 12표 · 점수: 현장 29 · 온라인 0"],
      [1, "15점", "1순위 1표 · 점수: 현장 13 · 온라인 2"],
      [2, "13점", "1순위 6표 · 점수: 현장 12 · 온라인 1"],
    ],
    "the projector's standings after the hall count",
  );
  await display.locator('.standings li.leader[data-option="3"]').waitFor();
  await expectText(display.locator(".methods"), "세 방식의 1위가 같습니다", "every method agrees");

  // 3. A correction: 10 ballots of the first ranking, not 12. Entering again replaces the count.
  await mod.locator('[data-key="hc-1-r0-count"]').fill("10");
  await mod.locator("#hc-1-enter").click();
  await expectText(mod.locator("#hall-lines-1"), "수기 집계 15명", "the corrected count in force");
  await expectText(display.locator(".tally-ballots"), "17표 (현장 16, 그중 수기 15 · 온라인 1)", "the corrected split");
  await waitForStandings(
    display,
    [
      [3, "25점", "1순위 10표 · 점수: 현장 25 · 온라인 0"],
      [1, "13점", "1순위 1표 · 점수: 현장 11 · 온라인 2"],
      [2, "13점", "1순위 6표 · 점수: 현장 12 · 온라인 1"],
    ],
    "the projector's standings after the correction",
  );
  await expectText(display.locator('.standings li[data-option="2"] .bar-pos'), "2위 (동률)", "a tie is shown as a tie");
  await expectText(phone.locator("#tally-1 .tally-ballots"), "17표", "the participant sees the hall count too");

  // 4. The headcount: 1 device + 15 hand-counted people in a hall of 10 is too many.
  await mod.locator("#headcount").fill("10");
  await mod.locator("#headcount-set").click();
  await expectText(mod.locator("#hall-alert .hall-warning"), "16 > 10", "the headcount warning");
  await expectText(mod.locator("#hall-lines-1 .hall-warning"), "16 > 10", "the warning next to the poll");
  await expectText(mod.locator('#hall-check [data-check-poll="1"]'), "기기 1 + 수기 15 = 16 / 현장 10명", "the hall check line");
  await mod.locator("#hall-section").scrollIntoViewIfNeeded();
  await screenshot(mod, "console-headcount-warning-desktop");
  await shots(display, "display-hall-count");
  await noSeriousViolations(mod, "the console with the headcount warning");
  await noSeriousViolations(display, "the display with a hall count");
  await mod.locator("#headcount").fill("40");
  await mod.locator("#headcount-set").click();
  await mod.locator("#hall-alert .hall-warning").waitFor({ state: "detached" });
  await expectText(mod.locator("#hall-alert"), "모든 집계가 현장 인원 이내입니다", "no warning within the headcount");

  // 5. The speaker queue: policy, limit, move, remove, call, end.
  for (const name of ["김영수", "박미정", "이준호"]) {
    await mod.locator("#speaker-name").fill(name);
    await mod.locator("#add-speaker button[type=submit]").click();
    await mod.locator("#speakers li").filter({ hasText: name }).waitFor();
  }
  await expectText(mod.locator('#speakers li[data-speaker="1"] .badge'), "현장(이름)", "a speaker added by name is from the hall");
  await mod.locator("#queue-policy").selectOption("not_spoken_first");
  await mod.waitForFunction(() => window.madang.client.state.speakers?.policy === "not_spoken_first", null, { timeout: 5000 });
  await mod.locator("#speaking-limit").fill("2");
  await mod.locator("#limit-set").click();
  await expectText(mod.locator("#limit-current"), "발언당 2:00", "the speaking limit");
  const waitingNames = () => mod.evaluate(() => [...document.querySelectorAll("#speakers li")].map((li) => li.firstChild.textContent));
  await mod.locator('[data-key="upsp-3"]').click();
  await mod.waitForFunction(() => [...document.querySelectorAll("#speakers li")].map((li) => li.dataset.speaker).join() === "1,3,2", null, { timeout: 5000 }).catch(async () => {
    assert.fail(`after moving 이준호 up: ${JSON.stringify(await waitingNames())}`);
  });
  assert.equal(await mod.evaluate(() => document.activeElement?.dataset.key), "upsp-3", "focus stays on the moved speaker's button");
  await mod.locator('[data-key="rmsp-2"]').click();
  await mod.locator('#speakers li[data-speaker="2"]').waitFor({ state: "detached" });
  await mod.locator("#call-next").click();
  await display.locator(".speaker-now").filter({ hasText: "김영수" }).waitFor();
  await display.locator("#speech-clock").waitFor();
  await mod.locator("#end-speech").click();
  await display.locator(".speaker-now").waitFor({ state: "detached" });
  await mod.locator("#speakers-section").scrollIntoViewIfNeeded();
  await screenshot(mod, "console-speakers-desktop");

  // 6. An instant-runoff poll, counted on paper: the projector shows its rounds.
  await mod.locator('[data-key="close-1"]').click();
  await mod.locator('#polls [data-poll="1"] .badge').filter({ hasText: "마감" }).waitFor();
  await createPoll(mod, { title: "가장 필요한 시설은?", tally: "instant_runoff", labels: ["분수대", "벤치", "꽃길", "운동기구"] });
  await mod.locator('[data-key="open-2"]').click();
  await display.locator("#poll-title").filter({ hasText: "가장 필요한 시설은?" }).waitFor();
  await mod.locator('[data-hall-form="2"]').waitFor();
  await paperRow(mod, 2, 0, 6, [1, 2, 3, 4]);
  for (const [row, count, ranking] of [[1, 5, [2, 3, 1, 4]], [2, 2, [3, 2, 1, 4]], [3, 2, [4, 1, 2, 3]]]) {
    await mod.locator("#hc-2-add").click();
    await paperRow(mod, 2, row, count, ranking);
  }
  await mod.locator("#hc-2-enter").click();
  await mod.locator('#hc-2-status[data-state="saved"]').waitFor();

  // Round 1: 6, 5, 2, 2 → 꽃길 and 운동기구 out together; round 2: 8, 7 → 벤치 out; round 3: 분수대 15.
  await expectText(display.locator(".tally-ballots"), "15표", "15 paper ballots");
  await expectText(display.locator(".pj-round"), "3라운드 중 3라운드", "the projector shows the last round of a live count");
  await expectText(display.locator('.method-winner[data-method="borda"]'), "벤치", "Borda's winner");
  await expectText(display.locator('.method-winner[data-method="instant_runoff"]'), "분수대", "instant-runoff's winner");
  await expectText(display.locator('.method-winner[data-method="schulze"]'), "분수대", "Schulze's winner");
  await expectText(display.locator(".methods-disagree"), "즉석 결선", "the notice that the methods disagree");
  await display.locator('.standings li.leader[data-option="1"]').waitFor();
  // The instant-runoff standings of the last round: votes of the options still in, and when the others went out.
  await waitForStandings(
    display,
    [
      [1, "15", ""],
      [2, "—", "2라운드에서 탈락"],
      [3, "—", "1라운드에서 탈락"],
      [4, "—", "1라운드에서 탈락"],
    ],
    "the projector's instant-runoff standings",
  );
  await shots(display, "display-irv");
  const overflow = await display.evaluate(() => {
    const main = document.querySelector("#results");
    return main.scrollHeight - main.clientHeight;
  });
  assert.ok(overflow <= 2, `the projector shows the whole result without cutting it off (overflow ${overflow}px)`);
  await noSeriousViolations(display, "the display with instant-runoff rounds");

  await expectText(phone.locator("#tally-2 .methods-disagree"), "즉석 결선", "the participant sees the notice");
  await phone.locator("#tally-2 .runoff-table").scrollIntoViewIfNeeded();
  await screenshot(phone, "participant-irv-phone");
  await noSeriousViolations(phone, "the participant page with instant-runoff rounds");

  // English strings, both pages.
  await display.keyboard.press("l");
  await expectText(display.locator(".pj-round"), "Round 3 of 3", "the English round");
  await expectText(display.locator(".methods-disagree"), "The methods disagree", "the English notice");
  await screenshot(display, "display-irv-en-projector");
  await display.keyboard.press("l");
  await mod.locator("#lang").selectOption("en");
  await expectText(mod.locator("#hc-2-h"), "Hall count", "the English form");
  await mod.locator('[data-hall-form="2"]').scrollIntoViewIfNeeded();
  await screenshot(mod, "console-hall-irv-en-desktop");
  await mod.locator("#lang").selectOption("ko");
  await noSeriousViolations(mod, "the console with the instant-runoff hall count");

  const errors = pages.flatMap((p) => p.errors).filter((e) => !/WebSocket connection|ERR_INTERNET_DISCONNECTED|net::ERR_|Failed to load resource/.test(e));
  assert.deepEqual(errors, [], "no script errors on any page");
});
