// The projector the moderator controls: the console puts a screen on it
// (`show_on_display`) and the display follows; a revealed instant-runoff
// poll over 12 sentence-length options is stepped through round by round
// without anything outside a 1920×1080 or a 1280×720 window; moving to
// another item never leaves the old item's results up; two open polls are
// both shown; the forum's end shows the end screen, without QR code or speaker.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, createForum, wsActor, newPage, online, noModerateViolations, screenshot, everySize, CONSOLE, PROJECTOR_SIZES as SIZES } from "./harness.js";

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


const LABELS = [
  "강변 산책로를 따라 가로등을 더 설치해 밤에도 안전하게 걸을 수 있도록 합니다",
  "어린이 놀이터의 낡은 놀이기구를 모두 교체하고 바닥에 충격 흡수재를 깝니다",
  "공원 입구 세 곳에 자전거 보관대를 만들고 공공 자전거 대여소를 연결합니다",
  "노인정 앞 쉼터에 그늘막과 벤치를 늘려 여름에도 쉴 수 있게 합니다",
  "반려견 놀이터를 따로 만들어 산책로와 분리하고 배변 봉투함을 둡니다",
  "주말마다 열리는 벼룩시장을 위해 광장에 전기와 수도 시설을 설치합니다",
  "공원 화장실 두 곳을 모든 사람이 쓸 수 있는 무장애 화장실로 고칩니다",
  "잔디밭 일부를 주민 텃밭으로 바꾸고 동네 학교와 함께 가꿉니다",
  "야외 공연장을 고쳐 동네 동아리가 무료로 공연할 수 있게 합니다",
  "공원 안 모든 안내판을 한국어와 영어, 중국어, 점자로 바꿉니다",
  "밤 열 시 이후에는 조명을 줄여 주변 아파트의 빛 공해를 줄입니다",
  "공원 관리 예산의 일부를 주민이 직접 정하는 참여 예산으로 돌립니다",
];

/** A forum with two items, created over HTTP; moderator commands go over a WebSocket from a page of the server's origin. */
async function forum() {
  const created = await createForum(server, {
    title: "을지로 공원 포럼",
    language: "ko",
    agenda: [{ title: "공원 시설" }, { title: "예산", timebox_secs: 900 }],
  });
  const moderator = await wsActor(server, browser, { token: created.moderator_token });
  return { ...created, command: moderator.command };
}

async function open(options, name) {
  const page = await newPage(browser, options, name);
  pages.push(page);
  return page;
}

test("the console puts screens on the projector, which fits a 12-option instant-runoff result and ends the forum", { timeout: 300000 }, async () => {
  const f = await forum();
  await f.command({ type: "start_forum" });
  await f.command({ type: "activate_item", item: 1 });
  const created = await f.command({
    type: "create_poll",
    title: "공원에 가장 먼저 필요한 것은?",
    method: { kind: "ranked", tally: "instant_runoff", max_ranks: 3 },
    options: { from: "fixed", labels: LABELS },
    results: "hidden",
  });
  const poll = created.poll;
  await f.command({ type: "open_poll", poll });
  // 30 paper ballots: options 7 to 12 have no first choice and go out together, then one a round.
  const ballots = [
    { ranking: [1, 2, 3], count: 9 },
    { ranking: [2, 1, 4], count: 8 },
    { ranking: [3, 2, 1], count: 6 },
    { ranking: [4, 3, 2], count: 4 },
    { ranking: [5, 4, 1], count: 2 },
    { ranking: [6, 1, 2], count: 1 },
  ];
  await f.command({ type: "enter_hall_count", poll, counts: { kind: "ranked", ballots } });
  await f.command({ type: "close_poll", poll });

  const mod = await open(CONSOLE, "console");
  await mod.goto(`${server.url}/console#token=${encodeURIComponent(f.moderator_token)}&display=${encodeURIComponent(f.display_token)}`);
  await online(mod);
  const display = await open({ viewport: SIZES[0][1] }, "display");
  await display.goto(`${server.url}/display#token=${encodeURIComponent(f.display_token)}`);
  await online(display);

  // A hidden result is not put on screen until revealed: the console says so in the page's language.
  await mod.locator("#projector-poll").selectOption(String(poll));
  await mod.locator('#projector-control button[data-screen="result"]').click();
  await mod.locator("#log[data-kind=error]").waitFor();
  // Put on screen as a poll, a closed poll with hidden results says so, with no verdict.
  await f.command({ type: "show_on_display", screen: { kind: "poll", poll } });
  await display.locator(`.pj-result[data-poll="${poll}"] .pj-note`).waitFor();
  assert.equal(await display.locator(".pj-verdict").count(), 0, "no verdict while the results are hidden");
  await f.command({ type: "show_on_display", screen: { kind: "auto" } });
  await f.command({ type: "reveal_results", poll });

  // Under auto, the current item's latest public result is on screen, marked final with its verdict.
  await display.locator(`.pj-result[data-poll="${poll}"][data-final="true"]`).waitFor();
  await display.locator(".pj-verdict").filter({ hasText: "결정:" }).waitFor();
  await everySize(display, "irv-final");

  // The console steps the result through its rounds.
  await mod.locator('#projector-control button[data-screen="result"]').click();
  await display.locator('.pj-round[data-step="1"]').waitFor();
  const rounds = await display.evaluate((p) => window.madang.client.state.polls.get(p).outcome.tally.ranked.instant_runoff.rounds.length, poll);
  assert.ok(rounds >= 3, `the ballots make several rounds, got ${rounds}`);
  assert.equal(await display.locator(".pj-verdict").count(), 0, "no verdict before the last round");
  assert.equal(await display.locator(".pj-row.out").count(), 6, "round 1: the six options without a first choice go out together");
  await everySize(display, "irv-round-1");
  for (let step = 2; step <= rounds; step++) {
    await mod.locator("#projector-next-round").click();
    await display.locator(`.pj-round[data-step="${step}"]`).waitFor();
    await mod.locator(".projector-now").filter({ hasText: `${step}라운드` }).waitFor();
  }
  assert.ok(await mod.locator("#projector-next-round").isDisabled(), "no round after the last");
  await mod.locator("#projector-section").scrollIntoViewIfNeeded();
  await screenshot(mod, "projector-console-irv-1440x900-ko");
  await mod.locator("#lang").selectOption("en");
  await mod.locator(".projector-now").filter({ hasText: "Final result" }).waitFor();
  await screenshot(mod, "projector-console-irv-1440x900-en");
  await noModerateViolations(mod, "the console with its projector control");
  await mod.locator("#lang").selectOption("ko");
  const winners = await display.evaluate((p) => window.madang.client.state.polls.get(p).outcome.tally.ranked.instant_runoff.winners, poll);
  assert.equal(winners.length, 1);
  const winner = LABELS[winners[0] - 1];
  await display.locator(".pj-verdict").filter({ hasText: `결정: ${winner}` }).waitFor();
  await display.locator(".pj-row.leader").filter({ hasText: winner }).waitFor();
  const sizes = await display.evaluate(() => {
    const px = (sel) => parseFloat(getComputedStyle(document.querySelector(sel)).fontSize);
    return { body: px(".pj-label"), verdict: px(".pj-verdict"), state: px(".agenda-state"), qr: document.querySelector(".pj-qr-side").getBoundingClientRect().height / innerHeight };
  });
  assert.ok(sizes.verdict >= sizes.body && sizes.state >= sizes.body, `verdict and agenda states no smaller than body text: ${JSON.stringify(sizes)}`);
  assert.ok(sizes.qr >= 0.25, `the QR code beside content at ${Math.round(sizes.qr * 100)}% of the height`);
  await everySize(display, "irv-last-round");

  // The join slide: the QR code takes at least 40% of the height; the code is large.
  await mod.locator('#projector-control button[data-screen="join"]').click();
  await display.locator(".pj-join-slide").waitFor();
  const join = await display.evaluate(() => ({
    qr: document.querySelector(".pj-qr-big").getBoundingClientRect().height / innerHeight,
    code: parseFloat(getComputedStyle(document.querySelector("#join-code")).fontSize),
  }));
  assert.ok(join.qr >= 0.4, `QR code at ${Math.round(join.qr * 100)}% of the height`);
  assert.ok(join.code >= 60, `join code at ${join.code} px`);
  await mod.locator(".projector-now").filter({ hasText: "참여 안내" }).waitFor();
  await everySize(display, "join");

  // Blank, then back to auto.
  await mod.locator('#projector-control button[data-screen="blank"]').click();
  await display.locator('#main[data-screen="blank"]').waitFor();
  assert.equal(await display.locator("#screen").evaluate((el) => el.childElementCount), 0);
  await mod.locator('#projector-control button[data-screen="auto"]').click();
  await display.locator(`.pj-result[data-poll="${poll}"]`).waitFor();

  // A fresh display (a projector restarted) shows the screen last chosen.
  await mod.locator('#projector-control button[data-screen="speakers"]').click();
  await display.locator(".pj-speakers").waitFor();
  const fresh = await open({ viewport: SIZES[1][1] }, "fresh display");
  await fresh.goto(`${server.url}/display#token=${encodeURIComponent(f.display_token)}`);
  await fresh.locator(".pj-speakers").waitFor();
  await fresh.context().close();
  await mod.locator('#projector-control button[data-screen="auto"]').click();

  // A Schulze poll is shown by head-to-head wins, never by Borda points; under auto the newest result of the item.
  const schulze = (await f.command({ type: "create_poll", title: "어느 쪽이 더 시급한가요?", method: { kind: "ranked", tally: "schulze" }, options: { from: "fixed", labels: ["가로등", "놀이터", "화장실"] } })).poll;
  await f.command({ type: "open_poll", poll: schulze });
  await f.command({ type: "enter_hall_count", poll: schulze, counts: { kind: "ranked", ballots: [{ ranking: [2, 1, 3], count: 5 }, { ranking: [1, 2, 3], count: 4 }, { ranking: [3, 2, 1], count: 2 }] } });
  await f.command({ type: "close_poll", poll: schulze });
  await display.locator(`.pj-result[data-poll="${schulze}"][data-final="true"]`).waitFor();
  const values = await display.locator(`.pj-result[data-poll="${schulze}"] .pj-value`).allTextContents();
  assert.deepEqual(values, ["2개 중 2개에 우세", "2개 중 1개에 우세", "2개 중 0개에 우세"], "Schulze by head-to-head wins");
  await display.locator(".pj-verdict").filter({ hasText: "결정: 놀이터" }).waitFor();
  await display.locator(".tally-ballots").filter({ hasText: "11표 (현장 11, 그중 수기 11 · 온라인 0)" }).waitFor();
  await everySize(display, "schulze");

  // Another item: under auto, the old item's results leave the screen at once.
  await f.command({ type: "submit_idea", text: "주민 참여 예산 규모를 먼저 정합시다" });
  await f.command({ type: "activate_item", item: 2 });
  await display.locator(".pj-ideas").waitFor();
  assert.equal(await display.locator(".pj-result").count(), 0, "no result of item 1 on item 2");
  await f.command({ type: "submit_idea", text: "예산의 10%를 주민 제안 사업에 씁니다" });
  await display.locator(".pj-wall li").filter({ hasText: "10%" }).waitFor();
  await everySize(display, "ideas");

  // Two open polls on the item: both are on screen.
  const a = (await f.command({ type: "create_poll", title: "참여 예산을 도입할까요?", method: { kind: "yes_no", rule: "simple" }, options: { from: "none" } })).poll;
  const b = (await f.command({ type: "create_poll", title: "어떤 분야에 먼저 쓸까요?", method: { kind: "approval", max_choices: 2 }, options: { from: "fixed", labels: ["놀이터", "안전", "문화 행사", "녹지"] } })).poll;
  await f.command({ type: "open_poll", poll: a });
  await f.command({ type: "open_poll", poll: b });
  await display.locator(`.pj-result[data-poll="${a}"]`).waitFor();
  await display.locator(`.pj-result[data-poll="${b}"]`).waitFor();
  // Nothing counted yet: no places, no verdict, no tie. (Each poll's rows come with its first tally.)
  await display.waitForFunction(() => document.querySelectorAll(".pj-place").length === 7);
  const placesShown = await display.locator(".pj-place").allTextContents();
  assert.equal(placesShown.length, 7, "three yes/no rows and four options");
  assert.ok(placesShown.every((text) => text === ""), `no place before a vote: ${placesShown}`);
  assert.equal(await display.locator(".pj-verdict").count(), 0, "no verdict on a live poll");
  await everySize(display, "two-polls");

  // Thirty sentence-length options, put on screen as a live poll: still nothing off screen.
  const many = Array.from({ length: 30 }, (_, i) => `${i + 1}번 제안: ${LABELS[i % LABELS.length]}`);
  const c = (await f.command({ type: "create_poll", title: "서른 가지 제안 중 두 가지를 고르세요", method: { kind: "approval", max_choices: 2 }, options: { from: "fixed", labels: many } })).poll;
  await f.command({ type: "open_poll", poll: c });
  await f.command({ type: "show_on_display", screen: { kind: "poll", poll: c } });
  await display.locator(`.pj-result[data-poll="${c}"] .pj-row`).nth(29).waitFor({ state: "attached" });
  assert.equal(await display.locator(".pj-result").count(), 1, "the chosen poll alone");
  await everySize(display, "thirty-options");
  await f.command({ type: "close_poll", poll: c });
  await f.command({ type: "show_on_display", screen: { kind: "auto" } });
  await display.locator(".pj-result").nth(1).waitFor();

  // A speaker's time runs out: the side says by how much they are over.
  await f.command({ type: "set_speaking_limit", secs: 1 });
  await f.command({ type: "add_speaker", name: "김영수" });
  await f.command({ type: "call_next" });
  await display.locator(".speaker-now").filter({ hasText: "김영수" }).waitFor();
  await display.locator("#speech-clock.over").waitFor();
  await f.command({ type: "add_speaker", name: "박민지" });
  await f.command({ type: "show_on_display", screen: { kind: "speakers" } });
  await display.locator(".pj-queue li").filter({ hasText: "박민지" }).waitFor();
  assert.equal(await display.locator(".speaker-now").count(), 1, "the speaker is named once");
  await everySize(display, "speakers");
  await display.evaluate(() => (document.documentElement.dataset.theme = "dark"));
  await screenshot(display, "projector-speakers-dark-1920x1080-ko");
  await noModerateViolations(display, "the projector's speaker queue in dark mode");
  await display.evaluate(() => (document.documentElement.dataset.theme = "light"));
  await f.command({ type: "show_on_display", screen: { kind: "auto" } });

  // The forum closes: the end screen, whatever was chosen; no QR code and no speaker.
  await mod.locator('#projector-control button[data-screen="join"]').click();
  await display.locator(".pj-join-slide").waitFor();
  await f.command({ type: "close_poll", poll: a });
  await f.command({ type: "close_poll", poll: b });
  await f.command({ type: "close_forum" });
  await display.locator(".pj-end").waitFor();
  assert.equal(await display.locator("img").count(), 0, "no QR code after the end");
  assert.equal(await display.locator(".speaker-now").count(), 0, "no speaker after the end");
  await display.locator(".pj-end li").filter({ hasText: winner }).waitFor();
  await display.locator(".pj-end li").filter({ hasText: "참여 예산을 도입할까요?" }).waitFor();
  await display.locator(".pj-record").filter({ hasText: `/forums/${f.id}/record` }).waitFor();
  assert.equal(await display.locator("#countdown").textContent(), "", "no countdown after the end");
  await everySize(display, "end");
  await mod.locator("#projector-control button[data-screen=join]").and(mod.locator("[disabled]")).waitFor();
  await screenshot(mod, "projector-console-1440x900-ko");

  const errors = pages.flatMap((p) => p.errors).filter((e) => !/WebSocket connection|net::ERR_|Failed to load resource/.test(e));
  assert.deepEqual(errors, [], "no page errors");
});
