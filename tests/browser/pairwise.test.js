// A pairwise poll from the phones to the projector: each phone is shown one
// pair at a time and taps the one it prefers (or "can't decide") until every
// pair is answered; once closed, the projector ranks the options by their
// fitted strength (never Borda points), inside a 1920×1080 and a 1280×720
// window, in Korean and English.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, createForum, wsActor, newPage, online, noModerateViolations, screenshot, everySize, textSize, PHONE, PROJECTOR_SIZES } from "./harness.js";

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

const LABELS = [
  "강변 산책로를 따라 가로등을 더 설치해 밤에도 안전하게 걸을 수 있도록 합니다",
  "어린이 놀이터의 낡은 놀이기구를 모두 교체하고 바닥에 충격 흡수재를 깝니다",
  "공원 입구 세 곳에 자전거 보관대를 만들고 공공 자전거 대여소를 연결합니다",
  "노인정 앞 쉼터에 그늘막과 벤치를 늘려 여름에도 쉴 수 있게 합니다",
  "공원 화장실 두 곳을 모든 사람이 쓸 수 있는 무장애 화장실로 고칩니다",
];

/** Answer pairs on a phone until it says every pair is done: the option listed first in `taste` wins; `skipOne` skips the first pair. */
async function answerAll(page, poll, taste, { skipOne = false } = {}) {
  let answered = 0;
  for (;;) {
    const pair = page.locator(`#pair-${poll}`);
    await pair.locator(".pair-option, .pair-done").first().waitFor();
    if (await pair.locator(".pair-done").count()) return answered;
    const ids = await pair.locator(".pair-option").evaluateAll((bs) => bs.map((b) => Number(b.dataset.key.split("-").pop())));
    assert.equal(ids.length, 2, "two options to choose between");
    assert.notEqual(ids[0], ids[1]);
    const winner = taste.indexOf(ids[0]) < taste.indexOf(ids[1]) ? ids[0] : ids[1];
    if (skipOne && answered === 0) await page.locator(`[data-key="pw-skip-${poll}"]`).tap();
    else await page.locator(`[data-key="pw-${poll}-${winner}"]`).tap();
    answered += 1;
    // The pair leaves at once; the next arrives once the answer is acknowledged.
    await page.locator(`#ballot-state-${poll}[data-state="saved"]`).waitFor();
    assert.ok(answered <= 10, "five options make ten pairs");
  }
}

test("phones answer pairs one at a time; the projector ranks the closed pairwise poll by strength and fits", { timeout: 180000 }, async () => {
  const f = await createForum(server, { title: "을지로 공원 포럼", language: "ko", agenda: [{ title: "공원 시설" }] });
  const moderator = await wsActor(server, browser, { token: f.moderator_token });
  const command = moderator.command;
  await command({ type: "start_forum" });
  await command({ type: "activate_item", item: 1 });
  const poll = (await command({ type: "create_poll", title: "둘 중 어느 쪽이 더 시급한가요?", method: { kind: "pairwise" }, options: { from: "fixed", labels: LABELS } })).poll;
  await command({ type: "open_poll", poll });

  const display = await newPage(browser, { viewport: PROJECTOR_SIZES[0][1] }, "display");
  await display.goto(`${server.url}/display#token=${encodeURIComponent(f.display_token)}`);
  await online(display);

  // Three residents: two in the hall, one at home. Tastes: 2 > 4 > 1 > 3 > 5 mostly.
  const tastes = [
    [2, 4, 1, 3, 5],
    [2, 1, 4, 5, 3],
    [4, 2, 1, 3, 5],
  ];
  const phones = [];
  for (const [i, channel] of ["hall", "hall", "remote"].entries()) {
    const page = await newPage(browser, PHONE, `phone ${i + 1}`);
    await page.goto(`${server.url}/j/${f.join_codes[channel]}`);
    await page.locator("#join-name").fill(`주민${i + 1}`);
    await page.locator("#join-submit").click();
    await online(page);
    phones.push(page);
  }
  const first = phones[0];
  await first.locator(`#pair-${poll} .pair-option`).first().waitFor();
  await first.locator(`#pair-${poll}`).filter({ hasText: "남은 쌍 10개" }).waitFor();
  await first.locator(`#pair-${poll}`).filter({ hasText: "어느 쪽이 더 좋은가요?" }).waitFor();
  await screenshot(first, "phone-pairwise-390x844-ko");
  await noModerateViolations(first, "the phone's pairwise pair");
  // At 200% text: both options whole, tap targets of at least 44 px, still clean.
  await textSize(first, 200);
  for (const box of await first.locator(`#pair-${poll} button`).evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().toJSON()))) {
    assert.ok(box.height >= 44 && box.left >= 0 && box.right <= 390, `a pair button at 200% text: ${JSON.stringify(box)}`);
  }
  await first.locator(`#pair-${poll}`).scrollIntoViewIfNeeded();
  await screenshot(first, "phone-pairwise-200-390x844-ko");
  await noModerateViolations(first, "the phone's pairwise pair at 200% text");
  await textSize(first, 100);
  await first.locator("#lang").selectOption("en");
  await first.locator(`#pair-${poll}`).filter({ hasText: "Which do you prefer?" }).waitFor();
  await screenshot(first, "phone-pairwise-390x844-en");
  await first.locator("#lang").selectOption("ko");

  for (const [i, page] of phones.entries()) {
    const answered = await answerAll(page, poll, tastes[i], { skipOne: i === 2 });
    assert.equal(answered, 10, `phone ${i + 1} answered every pair once`);
    await page.locator(`#pair-${poll}`).filter({ hasText: "모든 쌍을 비교했습니다" }).waitFor();
  }
  await screenshot(first, "phone-pairwise-done-390x844-ko");
  await noModerateViolations(first, "the phone after every pair");

  // While open the projector shows it live, with no places decided and no verdict.
  await display.locator(`.pj-result[data-poll="${poll}"][data-method="pairwise"]`).waitFor();
  await display.locator(".tally-ballots").filter({ hasText: "3표" }).waitFor();
  assert.equal(await display.locator(".pj-verdict").count(), 0, "no verdict while open");

  await command({ type: "close_poll", poll });
  await display.locator(`.pj-result[data-poll="${poll}"][data-final="true"]`).waitFor();
  const tally = await display.evaluate((p) => window.madang.client.state.polls.get(p).outcome.tally, poll);
  assert.equal(tally.result.comparisons, 29, "30 answers, one of them a skip");
  assert.equal(tally.result.skipped, 1);
  const order = tally.result.ranking.flat();
  assert.equal(order[0], 2, "option 2 is the strongest");
  // Rows in the order of strength, each with its strength (the strongest 100), never points.
  const rows = await display.locator(`.pj-result[data-poll="${poll}"] .pj-row`).evaluateAll((lis) => lis.map((li) => ({ id: Number(li.dataset.option), value: li.querySelector(".pj-value").textContent })));
  assert.deepEqual(rows.map((r) => r.id), order, "rows follow the strength ranking");
  assert.equal(rows[0].value, "강도 100");
  const strengths = rows.map((r) => Number(r.value.replace(/\D/g, "")));
  assert.deepEqual([...strengths].sort((a, b) => b - a), strengths, `strengths decrease down the list: ${strengths}`);
  assert.ok(rows.every((r) => !/점|points/.test(r.value)), "never Borda points");
  await display.locator(".pj-verdict").filter({ hasText: `결정: ${LABELS[1]}` }).waitFor();
  await display.locator(".pj-meta").filter({ hasText: "강도 순서" }).waitFor();
  await display.locator(".pj-row.leader .pj-sub").filter({ hasText: "번 비교 중" }).waitFor();
  await everySize(display, "pairwise");
  const errors = [display, ...phones].flatMap((p) => p.errors).filter((e) => !/WebSocket connection|net::ERR_|Failed to load resource/.test(e));
  assert.deepEqual(errors, [], "no page errors");
  await moderator.close();
});
