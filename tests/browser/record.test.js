// The public record page (/forums/{id}/record): a forum with a ranked poll
// decided by instant-runoff, a Schulze poll, a yes/no poll with a corrected
// hand count and a pairwise poll, run over real WebSockets. The page says
// what was decided under each item in words, shows each outcome's record
// fingerprint, the charts of each method, finds a voter's receipt and says
// what was cast, offers the record and a CSV per poll, follows the forum
// while it runs, passes axe-core (also at 200% text) in Korean and English,
// and prints on A4 without anything wider than the page.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { startServer, launchBrowser, newPage, createForum, wsActor, noModerateViolations, textSize, PHONE } from "./harness.js";

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

async function shot(page, name, fullPage = false) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage });
}

async function setLang(page, lang) {
  await page.evaluate((l) => localStorage.setItem("madang.lang", l), lang);
  await page.reload();
  await page.locator(".record-poll").first().waitFor();
}

/** A forum with four closed polls and one open; returns its ids and one voter's receipts. */
async function runForum() {
  const forum = await createForum(server, { title: "강변 공원 시민 토론회", language: "ko", agenda: [{ title: "공원에 먼저 들일 것" }, { title: "주말 차 없는 길" }] });
  const mod = await wsActor(server, browser, { token: forum.moderator_token });
  await mod.command({ type: "start_forum" });
  await mod.command({ type: "activate_item", item: 1 });
  const voters = [];
  for (const [i, code] of [forum.join_codes.remote, forum.join_codes.hall, forum.join_codes.remote, forum.join_codes.hall].entries()) {
    voters.push(await wsActor(server, browser, { join_code: code, name: `v${i}` }));
  }
  const labels = ["나무 더 심기", "놀이터", "물가 벤치", "공공 화장실"];
  const irv = (await mod.command({ type: "create_poll", title: "무엇을 먼저?", method: { kind: "ranked", tally: "instant_runoff" }, options: { from: "fixed", labels } })).poll;
  await mod.command({ type: "open_poll", poll: irv });
  const rankings = [[1, 2, 3, 4], [2, 1, 3, 4], [3, 2, 1, 4], [4, 3, 2, 1]];
  const receipts = {};
  for (const [i, v] of voters.entries()) {
    const ack = await v.command({ type: "cast_ballot", poll: irv, ballot: { kind: "ranked", ranking: rankings[i] } });
    receipts[`irv-${i}`] = ack.receipt;
  }
  // Voter 0 changes their mind: a new receipt, the old one retired.
  const recast = await voters[0].command({ type: "cast_ballot", poll: irv, ballot: { kind: "ranked", ranking: [2, 1, 3, 4] } });
  receipts.old = receipts["irv-0"];
  receipts["irv-0"] = recast.receipt;
  await mod.command({ type: "enter_hall_count", poll: irv, counts: { kind: "ranked", ballots: [{ ranking: [1, 2, 3, 4], count: 6 }, { ranking: [3, 1, 2, 4], count: 4 }] } });
  await mod.command({ type: "close_poll", poll: irv });

  const sch = (await mod.command({ type: "create_poll", title: "어느 쪽이 더 시급한가요?", method: { kind: "ranked", tally: "schulze" }, options: { from: "fixed", labels: ["가로등", "놀이터", "화장실"] } })).poll;
  await mod.command({ type: "open_poll", poll: sch });
  for (const [i, v] of voters.entries()) await v.command({ type: "cast_ballot", poll: sch, ballot: { kind: "ranked", ranking: [[1, 2, 3], [2, 3, 1], [3, 1, 2], [1, 3, 2]][i] } });
  await mod.command({ type: "enter_hall_count", poll: sch, counts: { kind: "ranked", ballots: [{ ranking: [2, 1, 3], count: 5 }, { ranking: [1, 2, 3], count: 4 }] } });
  await mod.command({ type: "close_poll", poll: sch });

  const pw = (await mod.command({ type: "create_poll", title: "어느 쪽이 더 중요한가요?", method: { kind: "pairwise" }, options: { from: "fixed", labels: ["넓은 보도", "횡단보도", "느린 차량"] } })).poll;
  await mod.command({ type: "open_poll", poll: pw });
  for (const v of voters) {
    await v.command({ type: "cast_comparison", poll: pw, winner: 1, loser: 2 });
    await v.command({ type: "cast_comparison", poll: pw, winner: 3, loser: 2 });
  }
  const pwAck = await voters[1].command({ type: "cast_comparison", poll: pw, winner: 1, loser: 3 });
  receipts.pairwise = pwAck.receipt;
  await mod.command({ type: "close_poll", poll: pw });

  await mod.command({ type: "activate_item", item: 2 });
  const yn = (await mod.command({ type: "create_poll", title: "일요일마다 강변길을 막을까요?", method: { kind: "yes_no", rule: "simple" }, options: { from: "none" } })).poll;
  await mod.command({ type: "open_poll", poll: yn });
  for (const [i, v] of voters.entries()) {
    const ack = await v.command({ type: "cast_ballot", poll: yn, ballot: { kind: "yes_no", choice: ["yes", "no", "yes", "abstain"][i] } });
    receipts[`yn-${i}`] = ack.receipt;
  }
  await mod.command({ type: "enter_hall_count", poll: yn, counts: { kind: "yes_no", yes: 9, no: 4, abstain: 1 } });
  await mod.command({ type: "enter_hall_count", poll: yn, counts: { kind: "yes_no", yes: 8, no: 4, abstain: 1 } });
  await mod.command({ type: "close_poll", poll: yn });

  const open = (await mod.command({ type: "create_poll", title: "다음 모임은 언제?", method: { kind: "single_choice" }, options: { from: "fixed", labels: ["토요일", "일요일"] } })).poll;
  await mod.command({ type: "open_poll", poll: open });
  return { forum, mod, voters, receipts, polls: { irv, sch, pw, yn, open } };
}

test("the record page: decisions in words, fingerprints, charts, receipts, downloads, print", { timeout: 240000 }, async () => {
  const { forum, mod, voters, receipts, polls } = await runForum();
  const res = await fetch(`${server.url}/api/forums/${forum.id}`);
  const view = await res.json();
  const stamp = (id) => view.polls.find((p) => p.id === id).outcome.record.fingerprint;

  const page = await newPage(browser, { viewport: { width: 1440, height: 900 } }, "record");
  await page.goto(`${server.url}/forums/${forum.id}/record`);
  await page.locator(`[data-poll="${polls.irv}"] .record-verdict`).waitFor();

  // Words first: what was decided, under its item.
  const item1 = page.locator('[data-item="1"]');
  assert.match(await item1.locator("h3").innerText(), /공원에 먼저 들일 것/);
  for (const id of [polls.irv, polls.sch, polls.pw]) assert.equal(await item1.locator(`[data-poll="${id}"]`).count(), 1);
  assert.match(await page.locator(`[data-poll="${polls.yn}"] .record-verdict`).innerText(), /가결/);
  assert.match(await page.locator(`[data-poll="${polls.open}"]`).innerText(), /투표가 진행 중/);
  // The fingerprint of each outcome, as the snapshot (and the projector) has it.
  for (const id of [polls.irv, polls.sch, polls.pw, polls.yn]) {
    assert.equal(await page.locator(`[data-poll="${id}"] .fingerprint`).innerText(), stamp(id));
    assert.match(stamp(id), /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  }
  // Charts: the channel split, the runoff flow, the Schulze heat map, the strengths with intervals.
  assert.ok((await page.locator(`[data-poll="${polls.yn}"] .split-row`).count()) === 3);
  assert.equal(await page.locator(`[data-poll="${polls.irv}"] .flow svg .block`).count() > 3, true);
  assert.equal(await page.locator(`[data-poll="${polls.sch}"] .heat-table td[data-level]`).count(), 6);
  assert.equal(await page.locator(`[data-poll="${polls.pw}"] .strengths .ci`).count(), 3);
  assert.match(await page.locator(".chain").innerText(), /사슬을 확인/);

  // A receipt typed loosely (lower case, spaces) says what was cast; the replaced one is not found.
  const loose = receipts["yn-1"].toLowerCase().replace(/-/g, " ");
  await page.locator("#receipt-input").fill(loose);
  await page.locator("#receipt-form button").click();
  await page.locator('#receipt-result[data-kind="found"]').waitFor();
  assert.match(await page.locator("#receipt-result").innerText(), /투표한 대로 집계되었습니다.*반대/);
  await page.locator("#receipt-input").fill(receipts["irv-0"]);
  await page.locator("#receipt-form button").click();
  await page.locator("#receipt-result").filter({ hasText: "1. 놀이터" }).waitFor();
  await page.locator("#receipt-input").fill(receipts.old);
  await page.locator("#receipt-form button").click();
  await page.locator('#receipt-result[data-kind="missing"]').waitFor();
  await page.locator("#receipt-input").fill(receipts.pairwise);
  await page.locator("#receipt-form button").click();
  await page.locator('#receipt-result[data-kind="found"]').filter({ hasText: "비교 3건" }).waitFor();
  if (SHOTS) {
    for (const [id, part] of [[polls.irv, ".flow"], [polls.sch, ".heat"], [polls.pw, ".strengths"], [polls.yn, ".split"]]) {
      await page.locator(`[data-poll="${id}"] ${part}`).screenshot({ path: `${SHOTS}/record-chart${part.replace(".", "-")}-ko.png` });
    }
  }
  await shot(page, "record-console-ko");
  await shot(page, "record-console-ko-full", true);
  await noModerateViolations(page, "the record page (ko)");

  // Downloads: the record as JSON lines, a CSV per closed poll with method, verdict and channel split.
  assert.match(await page.locator("#download-jsonl").getAttribute("href"), /\/api\/forums\/.+\/record$/);
  assert.equal(await page.locator('head link[rel="alternate"][type="application/atom+xml"]').getAttribute("href"), `/api/forums/${forum.id}/outcomes.atom`);
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator(`[data-csv="${polls.yn}"]`).click()]);
  const csv = await (await import("node:fs/promises")).readFile(await download.path(), "utf8");
  const rows = csv.replace(/^\ufeff/, "").trim().split("\r\n");
  assert.equal(rows[0], "poll,poll_title,method,status,ballots,hall_ballots,online_ballots,option,label,measure,value,hall_value,online_value,position,verdict");
  assert.deepEqual(rows[1].split(",").slice(2, 7), ["yes_no", "closed", "17", "15", "2"]);
  assert.equal(rows[1].split(",").at(-1), "passed");

  // Live: the open poll's close shows up by itself.
  await mod.command({ type: "close_poll", poll: polls.open });
  await page.locator(`[data-poll="${polls.open}"] .fingerprint`).waitFor({ timeout: 15000 });

  // English, and text at 200%.
  await setLang(page, "en");
  assert.match(await page.locator(`[data-poll="${polls.yn}"] .record-verdict`).innerText(), /Carried/);
  await shot(page, "record-console-en");
  await page.setViewportSize({ width: 1440, height: 900 });
  await noModerateViolations(page, "the record page (en)");
  await textSize(page, 200);
  await noModerateViolations(page, "the record page at 200% text");
  await textSize(page, 100);

  // Print on A4: nothing wider than the printable area (210 mm less 2 × 15 mm margins at 96 px per inch).
  await page.emulateMedia({ media: "print" });
  await page.setViewportSize({ width: 680, height: 960 });
  const printable = Math.floor(((210 - 30) / 25.4) * 96);
  const wide = await page.evaluate((limit) => {
    const out = [];
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.right > limit + 1 || r.left < -1) out.push(`${el.tagName}.${el.className?.baseVal ?? el.className}: ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
    return out;
  }, printable);
  assert.deepEqual(wide, [], "every element fits the A4 printable width");
  assert.equal(await page.locator("#receipt-box").isVisible(), false, "the receipt box is not printed");
  const pdf = await page.pdf({ format: "A4", margin: { top: "15mm", bottom: "15mm", left: "15mm", right: "15mm" } });
  assert.ok(pdf.length > 10000, "a PDF came out");
  if (SHOTS) (await import("node:fs")).writeFileSync(`${SHOTS}/record-print-en.pdf`, pdf);
  await shot(page, "record-print-en");
  await shot(page, "record-print-en-full", true);
  await page.emulateMedia({ media: "screen" });

  // A phone.
  const phone = await newPage(browser, PHONE, "record-phone");
  await phone.goto(`${server.url}/forums/${forum.id}/record`);
  await phone.locator(".record-poll .record-verdict").first().waitFor();
  await shot(phone, "record-phone-ko");
  await phone.locator(`[data-poll="${polls.irv}"]`).scrollIntoViewIfNeeded();
  await shot(phone, "record-phone-ko-irv");
  await noModerateViolations(phone, "the record page on a phone");
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, "no sideways scrolling on a phone");
  await phone.evaluate(() => localStorage.setItem("madang.lang", "en"));
  await phone.reload();
  await phone.locator(`[data-poll="${polls.sch}"] .heat-table`).scrollIntoViewIfNeeded();
  await shot(phone, "record-phone-en-schulze");
  await phone.locator(`[data-poll="${polls.pw}"] .strengths`).scrollIntoViewIfNeeded();
  await shot(phone, "record-phone-en-pairwise");
  assert.equal(await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 0, "no sideways scrolling in English either");

  assert.deepEqual([...page.errors, ...phone.errors], []);
  for (const v of voters) await v.close();
  await mod.close();
});

test("the record page of an unknown forum says so", async () => {
  const page = await newPage(browser, PHONE, "record-404");
  await page.goto(`${server.url}/forums/nosuchforum/record`);
  await page.locator('[data-kind="error"]').waitFor();
  assert.match(await page.locator('[data-kind="error"]').innerText(), /토론회가 없습니다/);
});
