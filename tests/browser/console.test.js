// The moderator console in a busy forum at 1440x900: eight polls, waiting
// ideas, paper counts, timers and speakers, the localhost warning, the CSV
// export and the one-page summary of outcomes. Screens in Korean and English,
// checked with axe-core (moderate or worse).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, createForum, wsActor, newPage, online, noModerateViolations, screenshot, textSize, overlappingControls } from "./harness.js";
import { outcomeCsv } from "../../web/static/csv.js";

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

/** A WebSocket client in a page of the server's origin: a moderator (token) or a participant (join code). */
async function actor(auth) {
  return (await wsActor(server, browser, auth)).command;
}

const SENTENCES = [
  "강변 산책로를 따라 그늘막과 벤치를 더 설치합니다",
  "어린이 놀이터 옆에 공공 화장실을 새로 짓습니다",
  "자전거 도로를 보행로와 분리하여 안전하게 만듭니다",
];

test("the console fits a busy forum at 1440x900", { timeout: 240000 }, async () => {
  const forum = await createForum(server, { title: "강변 공원 포럼", language: "ko", agenda: [{ title: "공원 시설" }, { title: "교통", timebox_secs: 600 }] });
  const mod = await newPage(browser, CONSOLE, "console");
  await mod.goto(`${server.url}/console#token=${encodeURIComponent(forum.moderator_token)}&display=${encodeURIComponent(forum.display_token)}`);
  await online(mod);
  const command = await actor({ token: forum.moderator_token });

  // 6: on 127.0.0.1 the console says the join links do not reach phones, and what to do.
  const warning = mod.locator("#lan-warning");
  await warning.waitFor();
  assert.match(await warning.textContent(), /0\.0\.0\.0/);

  await mod.locator("#start-forum").click();
  await mod.locator('[data-key="act-1"]').click();
  await mod.locator("#premod").check();
  await mod.locator("#log").filter({ hasText: "사전 검토" }).waitFor();

  // 2: the status log says what was done in words, never the command's name.
  const resident = await actor({ join_code: forum.join_codes.remote, name: "민지" });
  await resident({ type: "submit_idea", text: "벤치를 더 놓아 주세요" });
  await resident({ type: "submit_idea", text: "그늘막이 필요합니다" });
  await resident({ type: "submit_idea", text: "벤치가 부족해요" });
  await mod.locator('[data-key="ap-1"]').click();
  await mod.locator("#log").filter({ hasText: "승인" }).waitFor();
  assert.doesNotMatch(await mod.locator("#log").textContent(), /approve_idea/);

  // 2: no merge target is preselected, and a merge can be undone before it is sent.
  const select = mod.locator('[data-key="msel-3"]');
  assert.equal(await select.inputValue(), "", "no merge target preselected");
  assert.equal(await mod.locator('[data-key="mg-3"]').isDisabled(), true, "nothing to merge into yet");
  await select.selectOption("1");
  await mod.locator('[data-key="mg-3"]').click();
  await mod.locator('[data-key="undo-merge-3"]').click();
  await mod.locator('[data-key="ap-2"]').click();
  await mod.locator("#log").filter({ hasText: "승인" }).filter({ hasText: "#2" }).waitFor();
  assert.equal((await mod.evaluate(() => window.madang.client.state.ideas.get(3).status)), "pending", "the undone merge was never sent");
  await mod.locator('[data-key="msel-3"]').selectOption("1");
  await mod.locator('[data-key="mg-3"]').click();
  await mod.waitForFunction(() => window.madang.client.state.ideas.get(3)?.status === "merged");
  assert.doesNotMatch(await mod.locator("#log").textContent(), /merge_idea/);

  // 2: an error in the log is worded from its code, in the page's language.
  await mod.locator("body").click({ position: { x: 5, y: 5 } });
  await mod.keyboard.press("s");
  await mod.locator('#log[data-kind="error"]').waitFor();
  assert.match(await mod.locator("#log").textContent(), /지금은 할 수 없습니다/);

  // 5: the active item without a time box gets time, and its timer starts.
  assert.equal(await mod.locator('[data-key="start-1"]').isDisabled(), true);
  await mod.locator("#give-1").fill("2");
  await mod.locator('[data-key="give-set-1"]').click();
  await mod.locator('[data-key="start-1"]:not([disabled])').click();
  await mod.locator('[data-key="pause-1"]').waitFor();
  await mod.locator('[data-countdown="1"]').filter({ hasText: /^1:5\d$|^2:00$/ }).waitFor();

  // 5: a speaker over time shows how far over, on the console.
  await command({ type: "set_speaking_limit", secs: 1 });
  await command({ type: "add_speaker", name: "박 선생님" });
  await command({ type: "call_next" });
  await mod.locator("#speech-clock").filter({ hasText: /^\+0:0\d/ }).waitFor();
  assert.match(await mod.locator("#speech-clock").textContent(), /초과/);

  // 1, 4: eight polls, most of them closed; results by their own measure.
  const polls = [];
  const poll = async (title, method, results = "live", labels = SENTENCES) => {
    const ack = await command({ type: "create_poll", title, method, options: method.kind === "yes_no" ? { from: "none" } : { from: "fixed", labels }, results });
    polls.push(ack.poll);
    return ack.poll;
  };
  for (let i = 1; i <= 4; i++) {
    const id = await poll(`지난 투표 ${i}: 어떤 시설이 가장 필요합니까?`, { kind: "approval", max_choices: 2 });
    await command({ type: "open_poll", poll: id });
    await resident({ type: "cast_ballot", poll: id, ballot: { kind: "approval", options: [1, 2] } });
    await command({ type: "close_poll", poll: id });
  }
  const hidden = await poll("숨긴 결과의 찬반 투표", { kind: "yes_no", rule: "two_thirds" }, "hidden");
  await command({ type: "open_poll", poll: hidden });
  await resident({ type: "cast_ballot", poll: hidden, ballot: { kind: "yes_no", choice: "yes" } });
  await command({ type: "close_poll", poll: hidden });
  const empty = await poll("아직 아무도 투표하지 않은 찬반", { kind: "yes_no", rule: "two_thirds" });
  await command({ type: "open_poll", poll: empty });
  const schulze = await poll("슐체 순위 투표", { kind: "ranked", tally: "schulze" });
  await command({ type: "open_poll", poll: schulze });
  await resident({ type: "cast_ballot", poll: schulze, ballot: { kind: "ranked", ranking: [2, 1, 3] } });
  const ranked = await poll("보르다 순위 투표 (투표 없음)", { kind: "ranked" });
  await command({ type: "open_poll", poll: ranked });

  await mod.locator(`[data-poll="${schulze}"] .bar-row`).first().waitFor();
  // Closed polls fold away; the builder is above the list; the page stays short.
  const builder = await mod.locator("#poll-builder-box").boundingBox();
  const firstPoll = await mod.locator("#polls [data-poll]").first().boundingBox();
  assert.ok(builder.y < firstPoll.y, "the poll builder comes before the polls");
  for (let i = 0; i < 4; i++) assert.equal(await mod.locator(`details[data-poll="${polls[i]}"]`).getAttribute("open"), null, "a closed poll is folded");
  const height = await mod.evaluate(() => document.documentElement.scrollHeight);
  // (It was 7,250 px before the builder folded and closed polls folded; the folded ticket card adds one line.)
  assert.ok(height < 3700, `the console is ${height} px tall`);
  // Sentence-length labels get a real column.
  const labelWidths = await mod.locator(`[data-poll="${schulze}"] .bar-label`).evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
  for (const w of labelWidths) assert.ok(w >= 280, `an option label is ${w} px wide`);

  // 4: no votes yet: said so, never "1st (tied)" nor a verdict.
  for (const id of [empty, ranked]) {
    const text = await mod.locator(`[data-poll="${id}"] .tally`).textContent();
    assert.match(text, /아직 투표가 없습니다/, text);
    assert.doesNotMatch(text, /동률|동수|부결/, text);
  }
  // Schulze by its own measure (wins over the others), hall and online labelled.
  const schulzeText = await mod.locator(`[data-poll="${schulze}"] .tally`).textContent();
  assert.doesNotMatch(schulzeText, /\d+점/, schulzeText);
  assert.match(schulzeText, /2개 선택지를 이김/, schulzeText);
  assert.match(schulzeText, /현장 0 · 온라인 1/, schulzeText);

  // 2: a closed poll with hidden results says so; `r` reveals it.
  const badge = mod.locator(`[data-poll="${hidden}"] .badge.results-hidden`);
  await badge.waitFor();
  await mod.locator("body").click({ position: { x: 5, y: 5 } });
  await mod.keyboard.press("r");
  await badge.waitFor({ state: "detached" });
  await mod.locator(`[data-poll="${hidden}"] .badge.results-public`).waitFor();

  // 3: paper rankings start empty, fit their labels, and refusals are in the page's language.
  const rank = mod.locator(`[data-key="hc-${ranked}-r0-k0"]`);
  assert.equal(await rank.inputValue(), "", "no pre-filled order");
  const rankWidth = (await rank.boundingBox()).width;
  assert.ok(rankWidth >= 300, `a ranking select is ${rankWidth} px wide`);
  await mod.locator(`#hc-${ranked}-r0-count`).fill("2");
  await rank.selectOption("1");
  await mod.locator(`#hc-${ranked}-enter`).click();
  await mod.locator(`#hc-${ranked}-status[data-state="error"]`).waitFor();
  const refused = await mod.locator(`#hc-${ranked}-status`).textContent();
  assert.match(refused, /종이 순위표 1: 모든 선택지에 순위를 매기세요/, refused);
  assert.doesNotMatch(refused, /paper ranking|option \d/, refused);

  await mod.evaluate(() => window.scrollTo(0, 0));
  await screenshot(mod, "console-busy-ko");
  await mod.locator(`[data-poll="${schulze}"]`).scrollIntoViewIfNeeded();
  await screenshot(mod, "console-polls-ko");
  await noModerateViolations(mod, "the busy console");

  // 7: the one-page summary of outcomes, once polls have closed.
  await mod.locator("#summary-open").click();
  const summary = mod.locator("#summary");
  await summary.waitFor();
  const summaryText = await summary.textContent();
  assert.match(summaryText, /지난 투표 1: 어떤 시설이 가장 필요합니까\?/);
  assert.match(summaryText, /복수 선택/);
  assert.match(summaryText, new RegExp(SENTENCES[0]));
  assert.match(summaryText, /현장 0 · 온라인 1/);
  assert.match(summaryText, /숨긴 결과의 찬반 투표.*가결 \(3분의 2\)/);
  assert.match(summaryText, /\d{4}/, "timestamps");
  await screenshot(mod, "console-summary-ko");
  await noModerateViolations(mod, "the summary");
  await mod.locator("#summary-close").click();
  await mod.locator("#main").waitFor();

  // The same console in English.
  await mod.evaluate(() => localStorage.setItem("madang.lang", "en"));
  await mod.reload();
  await online(mod);
  await mod.locator(`[data-poll="${empty}"] .tally`).filter({ hasText: "No votes yet" }).waitFor();
  assert.match(await mod.locator("#lan-warning").textContent(), /phones/);
  await screenshot(mod, "console-busy-en");
  await mod.locator(`[data-poll="${schulze}"]`).scrollIntoViewIfNeeded();
  await screenshot(mod, "console-polls-en");
  await noModerateViolations(mod, "the English console");
  await mod.locator("#summary-open").click();
  await mod.locator("#summary").waitFor();
  await screenshot(mod, "console-summary-en");
  await noModerateViolations(mod, "the English summary");
  await mod.locator("#summary-close").click();

  // At 200% text the console still lays out (one column) and stays clean.
  await textSize(mod, 200);
  await mod.evaluate(() => window.scrollTo(0, 0));
  const overflow = await mod.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the console is ${overflow} px wider than the window at 200% text`);
  await screenshot(mod, "console-busy-en-200");
  await noModerateViolations(mod, "the console at 200% text");
  // Usable at 200%: no control drawn over another or cut off, in either language.
  assert.deepEqual(await overlappingControls(mod), [], "controls at 200% text in English");
  await mod.locator("#lang").selectOption("ko");
  await mod.waitForFunction(() => document.documentElement.lang === "ko");
  assert.deepEqual(await overlappingControls(mod), [], "controls at 200% text in Korean");
  await mod.evaluate(() => document.querySelectorAll("details").forEach((d) => (d.open = true)));
  assert.deepEqual(await overlappingControls(mod), [], "controls at 200% text with the poll builder and shortcuts open");
  await noModerateViolations(mod, "the Korean console at 200% text");
  for (const section of ["#projector-section", "#polls-section", "#speakers-section", "#hall-section"]) {
    await mod.locator(section).scrollIntoViewIfNeeded();
    await screenshot(mod, `console-200-ko-${section.slice(1)}`);
  }
  await textSize(mod, 100);

  assert.deepEqual(mod.errors, [], "no page errors");
});

test("an item over its time counts up, and a pairwise poll shows strengths, not points", { timeout: 60000 }, async () => {
  const forum = await createForum(server, { title: "Overrun forum", language: "en", agenda: [{ title: "Crossings" }] });
  const command = await actor({ token: forum.moderator_token });
  await command({ type: "start_forum" });
  await command({ type: "activate_item", item: 1 });
  await command({ type: "extend_timer", item: 1, secs: 1 });
  await command({ type: "start_timer", item: 1 });
  const ack = await command({ type: "create_poll", title: "Which matters more?", method: { kind: "pairwise" }, options: { from: "fixed", labels: ["Wider pavements", "More crossings", "Slower traffic"] } });
  await command({ type: "open_poll", poll: ack.poll });
  const resident = await actor({ join_code: forum.join_codes.remote, name: "Ana" });
  await resident({ type: "cast_comparison", poll: ack.poll, winner: 2, loser: 1 });

  const mod = await newPage(browser, CONSOLE, "console");
  await mod.goto(`${server.url}/console#token=${encodeURIComponent(forum.moderator_token)}`);
  await mod.evaluate(() => localStorage.setItem("madang.lang", "en"));
  await mod.reload();
  await online(mod);
  await mod.locator('[data-countdown="1"]').filter({ hasText: /^\+0:0\d over$/ }).waitFor();
  const tally = mod.locator(`[data-poll="${ack.poll}"] .tally-pairwise`);
  await tally.waitFor();
  const text = await tally.textContent();
  assert.match(text, /strength \d\.\d\d/, text);
  assert.match(text, /won 1 · lost 0/, text);
  assert.equal(await mod.locator(`[data-hall-form="${ack.poll}"]`).count(), 0, "no hand count for a pairwise poll");
  assert.doesNotMatch(text, /points/, text);
  // The shortcuts do what their hints say: `+` gives a minute (counted from now once over), `?` opens the list.
  await mod.locator("body").click({ position: { x: 5, y: 5 } });
  await mod.keyboard.press("+");
  await mod.locator('[data-countdown="1"]').filter({ hasText: /^0:5\d$|^1:00$/ }).waitFor();
  await mod.keyboard.press("?");
  assert.equal(await mod.locator("#shortcuts-box").getAttribute("open"), "", "the list is open");
  assert.equal(await mod.evaluate(() => document.activeElement?.id), "shortcuts-h");
  await mod.locator("#poll-builder-box > summary").click();
  await mod.locator("#poll-title").waitFor();
  await screenshot(mod, "console-builder-en");
  await noModerateViolations(mod, "the console with the poll builder open");
  await mod.locator(`[data-poll="${ack.poll}"]`).scrollIntoViewIfNeeded();
  await screenshot(mod, "console-pairwise-en");
  await noModerateViolations(mod, "the console with a pairwise poll and an overrun");
  assert.deepEqual(mod.errors, []);
});

test("the organizer form takes a time box per agenda item", { timeout: 60000 }, async () => {
  const page = await newPage(browser, CONSOLE, "organizer");
  await page.goto(`${server.url}/#admin_token=${encodeURIComponent(server.adminToken)}`);
  await page.locator("#title").fill("시간 포럼");
  await page.locator("#agenda").fill("여는 말 | 5\n토론");
  await page.locator("#create-submit").click();
  await page.waitForURL(/\/console#/);
  await online(page);
  const items = await page.evaluate(() => window.madang.client.state.agenda.map((i) => [i.title, i.timebox_secs ?? null]));
  assert.deepEqual(items, [["여는 말", 300], ["토론", null]]);
  await page.locator('[data-item="1"]').filter({ hasText: "5′" }).waitFor();
  assert.deepEqual(page.errors, []);
});

test("the CSV export: method, each method's own measure, the verdict and the hall/online split", () => {
  const poll = (id, title, kind) => ({ id, title, status: "closed", method: { kind }, options: [{ id: 1, label: "A" }, { id: 2, label: "B" }] });
  const polls = new Map([
    [1, poll(1, "Schulze", "ranked")],
    [2, poll(2, "Yes/no", "yes_no")],
    [3, poll(3, "Empty", "single_choice")],
  ]);
  const tallies = {
    1: {
      ballots: 3,
      by_channel: { hall: { ballots: 1 }, remote: { ballots: 2 } },
      result: { method: "ranked", tally: "schulze", borda: [{ option: 1, count: 1 }, { option: 2, count: 2 }], first_choices: [{ option: 1, count: 1 }, { option: 2, count: 2 }], ranking: [[2], [1]] },
      ranked: { options: [1, 2], schulze: { pairwise: [[0, 1], [2, 0]], strongest: [[0, 0], [1, 0]], ranking: [[2], [1]] } },
    },
    2: {
      ballots: 4,
      by_channel: { hall: { ballots: 1, result: { method: "yes_no", yes: 1, no: 0, abstain: 0 } }, remote: { ballots: 3, result: { method: "yes_no", yes: 1, no: 2, abstain: 0 } } },
      result: { method: "yes_no", yes: 2, no: 2, abstain: 0, rule: "simple", passed: false, tie: true },
    },
    3: { ballots: 0, no_votes: true, result: { method: "single_choice", counts: [{ option: 1, count: 0 }, { option: 2, count: 0 }], ranking: [[1, 2]], winners: [], tie: false } },
  };
  const lines = outcomeCsv({ polls, tallyOf: (id) => tallies[id] }).split("\r\n");
  assert.deepEqual(lines, [
    "poll,poll_title,method,status,ballots,hall_ballots,online_ballots,option,label,measure,value,hall_value,online_value,position,verdict",
    "1,Schulze,schulze,closed,3,1,2,1,A,options_beaten,0,,,2,",
    "1,Schulze,schulze,closed,3,1,2,2,B,options_beaten,1,,,1,winner",
    "2,Yes/no,yes_no,closed,4,1,3,,yes,votes,2,1,1,,tie",
    "2,Yes/no,yes_no,closed,4,1,3,,no,votes,2,0,2,,tie",
    "2,Yes/no,yes_no,closed,4,1,3,,abstain,votes,0,0,0,,tie",
    "3,Empty,single_choice,closed,0,0,0,1,A,picks,0,,,,no_votes",
    "3,Empty,single_choice,closed,0,0,0,2,B,picks,0,,,,no_votes",
    "",
  ]);
});
