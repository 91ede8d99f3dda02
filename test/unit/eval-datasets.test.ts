import { describe, expect, it } from "vitest";
import {
  detectLayout,
  loadDataset,
  loadLocomo,
  loadLongMemEval,
  parseLocomoDate,
  parseLongMemEvalDate,
} from "../eval/datasets.ts";

/** A LoCoMo sample with the real dataset's quirks: sessions out of order, a photo, malformed evidence. */
const LOCOMO = [
  {
    sample_id: "conv-1",
    conversation: {
      speaker_a: "Caroline",
      speaker_b: "Melanie",
      session_10_date_time: "10:37 am on 27 June, 2023",
      session_10: [{ speaker: "Caroline", dia_id: "D10:1", text: "I went to a pride parade last weekend." }],
      session_2_date_time: "1:56 pm on 8 May, 2023",
      session_2: [
        {
          speaker: "Melanie",
          dia_id: "D2:1",
          text: "Look what I painted!",
          img_url: ["https://x/y.jpg"],
          blip_caption: "a painting of a sunset over a lake",
        },
        { speaker: "Caroline", dia_id: "D2:2", text: "Wow, beautiful." },
        { speaker: "Melanie", dia_id: "D2:3", text: "Thanks, it took me 3 weeks." },
        { speaker: "Caroline", dia_id: "D2:2", text: "Really." },
      ],
      session_1_date_time: "someday",
      session_1: [{ speaker: "Caroline", dia_id: "D1:1", text: "Hi!" }],
      // Not sessions: summaries and observations sit beside them in the real files.
      session_1_summary: "They say hi.",
    },
    event_summary: {},
    qa: [
      { question: "What did Melanie paint?", answer: "A sunset", evidence: ["D2:1"], category: 4 },
      {
        question: "When did Melanie paint the sunset?",
        answer: 2023,
        evidence: ["D2:1 D2:3"],
        category: 2,
        tags: ["date"],
      },
      {
        question: "Where did Caroline go?",
        answer: "A pride parade",
        evidence: ["D10:", "D10:1", "D99:9"],
        category: 1,
      },
      { question: "Which turns?", answer: "x", evidence: ["D2:02; D:2:3", "D2:3"], category: 3 },
      {
        question: "What did Caroline paint?",
        adversarial_answer: "Nothing; Melanie painted",
        evidence: ["D2:1"],
        category: 5,
      },
    ],
  },
];

const LONGMEMEVAL = [
  {
    question_id: "q1",
    question_type: "single-session-user",
    question: "What degree did I graduate with?",
    answer: "Business Administration",
    question_date: "2023/05/30 (Tue) 23:40",
    haystack_session_ids: ["s-a", "answer_1"],
    haystack_dates: ["2023/05/20 (Sat) 02:21", "2023/05/21 (Sun) 14:05"],
    haystack_sessions: [
      [
        { role: "user", content: "Tips for a road trip?" },
        { role: "assistant", content: "Plan your stops." },
      ],
      [
        { role: "user", content: "I graduated with a degree in Business Administration.", has_answer: true },
        { role: "assistant", content: "Congratulations!" },
      ],
    ],
    answer_session_ids: ["answer_1"],
  },
  {
    question_id: "q2_abs",
    question_type: "temporal-reasoning",
    question: "How many days before my violin recital did I buy the new bow?",
    answer: "You did not mention a violin recital.",
    question_date: "2023/06/01 (Thu) 10:00",
    haystack_session_ids: ["dup", "dup"],
    haystack_dates: ["2023/05/01 (Mon) 09:00", "bad date"],
    haystack_sessions: [
      [{ role: "user", content: "I bought a new bow for my cello." }],
      [
        { role: "user", content: "Something else." },
        { role: "assistant", content: "Sure." },
      ],
    ],
    answer_session_ids: ["dup"],
  },
];

describe("eval datasets: LoCoMo", () => {
  const d = loadLocomo(LOCOMO);

  it("reads sessions in numeric order, dated, with photo captions in the text", () => {
    expect(d.layout).toBe("locomo");
    const [conv] = d.conversations;
    expect(conv!.id).toBe("conv-1");
    // A repeated dia_id is kept as a turn of its own.
    expect(conv!.turns.map((t) => t.id)).toEqual(["D1:1", "D2:1", "D2:2", "D2:3", "D2:2#2", "D10:1"]);
    expect(conv!.turns[4]!.text).toBe("Really.");
    expect(d.warnings).toContain('conv-1: turn "D2:2" of session_2 repeats an id; stored as D2:2#2');
    expect(conv!.turns[1]).toEqual({
      id: "D2:1",
      speaker: "Melanie",
      text: "Look what I painted! [shares a photo: a painting of a sunset over a lake]",
      date: Date.UTC(2023, 4, 8, 13, 56),
    });
    expect(conv!.turns[5]!.date).toBe(Date.UTC(2023, 5, 27, 10, 37));
    expect(conv!.turns[0]!.date).toBeNull();
    expect(d.warnings.some((w) => w.includes("session_1 has no readable date"))).toBe(true);
  });

  it("names categories, ids questions, keeps tags, and reads adversarial answers as unanswerable", () => {
    expect(d.questions.map((q) => q.category)).toEqual([
      "single-hop",
      "temporal",
      "multi-hop",
      "open-domain",
      "adversarial",
    ]);
    expect(d.questions.map((q) => q.id)).toEqual(["conv-1-q1", "conv-1-q2", "conv-1-q3", "conv-1-q4", "conv-1-q5"]);
    expect(d.questions[1]!.answer).toBe("2023");
    expect(d.questions[1]!.tags).toEqual(["date"]);
    expect(d.questions[4]).toMatchObject({ answer: "Nothing; Melanie painted", answerable: false, evidence: ["D2:1"] });
    expect(d.questions.slice(0, 4).every((q) => q.answerable && q.conversation === "conv-1")).toBe(true);
  });

  it("splits, repairs and drops malformed evidence ids, noting each", () => {
    expect(d.questions[1]!.evidence).toEqual(["D2:1", "D2:3"]);
    expect(d.questions[2]!.evidence).toEqual(["D10:1"]);
    expect(d.questions[3]!.evidence).toEqual(["D2:2", "D2:3"]);
    const evidenceWarnings = d.warnings.filter((w) => w.includes("evidence"));
    expect(evidenceWarnings).toEqual([
      'conv-1 conv-1-q3: evidence "D10:" is not a turn of the conversation; dropped',
      'conv-1 conv-1-q3: evidence "D99:9" is not a turn of the conversation; dropped',
      'conv-1 conv-1-q4: evidence "D2:02" read as D2:2',
      'conv-1 conv-1-q4: evidence "D:2:3" read as D2:3',
    ]);
  });

  it("parses LoCoMo's dates", () => {
    expect(parseLocomoDate("1:56 pm on 8 May, 2023")).toBe(Date.UTC(2023, 4, 8, 13, 56));
    expect(parseLocomoDate("12:09 am on 13 September, 2023")).toBe(Date.UTC(2023, 8, 13, 0, 9));
    expect(parseLocomoDate("12:30 pm on 1 Jan, 2024")).toBe(Date.UTC(2024, 0, 1, 12, 30));
    expect(parseLocomoDate("8 May, 2023")).toBe(Date.UTC(2023, 4, 8));
    expect(parseLocomoDate("yesterday")).toBeNull();
    expect(parseLocomoDate("1:56 pm on 8 Maybe, 2023")).toBeNull();
  });
});

describe("eval datasets: LongMemEval", () => {
  const d = loadLongMemEval(LONGMEMEVAL);

  it("makes each instance its own dated conversation", () => {
    expect(d.layout).toBe("longmemeval");
    expect(d.conversations.map((c) => c.id)).toEqual(["q1", "q2_abs"]);
    expect(d.conversations[0]!.turns).toEqual([
      { id: "s-a:0", speaker: "user", text: "Tips for a road trip?", date: Date.UTC(2023, 4, 20, 2, 21) },
      { id: "s-a:1", speaker: "assistant", text: "Plan your stops.", date: Date.UTC(2023, 4, 20, 2, 21) },
      {
        id: "answer_1:0",
        speaker: "user",
        text: "I graduated with a degree in Business Administration.",
        date: Date.UTC(2023, 4, 21, 14, 5),
      },
      { id: "answer_1:1", speaker: "assistant", text: "Congratulations!", date: Date.UTC(2023, 4, 21, 14, 5) },
    ]);
    // A repeated session id keeps turn ids unique.
    expect(d.conversations[1]!.turns.map((t) => t.id)).toEqual(["dup:0", "dup#1:0", "dup#1:1"]);
    expect(d.conversations[1]!.turns[1]!.date).toBeNull();
  });

  it("takes evidence from has_answer turns, else from every turn of the answer sessions (and says so)", () => {
    const [q1, q2] = d.questions;
    expect(q1).toMatchObject({
      conversation: "q1",
      category: "single-session-user",
      evidence: ["answer_1:0"],
      evidenceLevel: "turn",
      answerable: true,
      date: Date.UTC(2023, 4, 30, 23, 40),
    });
    expect(q2).toMatchObject({
      category: "temporal-reasoning",
      evidence: ["dup:0", "dup#1:0", "dup#1:1"],
      evidenceLevel: "session",
      answerable: false,
    });
    expect(d.warnings).toContain("q2_abs: 1 session(s) without a readable date");
    expect(d.warnings.some((w) => w.startsWith("1 question(s) have no turn flagged has_answer"))).toBe(true);
  });

  it("parses LongMemEval's dates", () => {
    expect(parseLongMemEvalDate("2023/05/20 (Sat) 02:21")).toBe(Date.UTC(2023, 4, 20, 2, 21));
    expect(parseLongMemEvalDate("2023/05/20")).toBe(Date.UTC(2023, 4, 20));
    expect(parseLongMemEvalDate("May 20")).toBeNull();
  });
});

describe("eval datasets: layout detection", () => {
  it("tells the layouts apart and refuses anything else", () => {
    expect(detectLayout(LOCOMO)).toBe("locomo");
    expect(detectLayout(LOCOMO[0])).toBe("locomo");
    expect(detectLayout(LONGMEMEVAL)).toBe("longmemeval");
    expect(loadDataset(LONGMEMEVAL).questions).toHaveLength(2);
    expect(loadDataset(LOCOMO[0]).conversations).toHaveLength(1);
    expect(detectLayout([])).toBeNull();
    expect(detectLayout({ foo: 1 })).toBeNull();
    expect(() => loadDataset([{ foo: 1 }])).toThrow(/not a LoCoMo/);
  });
});
