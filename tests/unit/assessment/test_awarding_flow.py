"""Awarding through the embedded stack (SQLite + in-memory bus): rubrics, completions, windows, re-takes and
failures, renewal, built-in grading."""

from typing import Any

from shared.contracts import ResultKind, Topic
from tests.unit.assessment.conftest import T0, Flow, when

ESSAY_LEVELS = [
    {"id": "novice", "name": "Novice", "description": "Restates the prompt."},
    {"id": "proficient", "name": "Proficient"},
    {"id": "expert", "name": "Expert"},
]
WRITING: dict[str, Any] = {
    "id": "writing",
    "name": "Academic Writing",
    "description": "Writes a sourced, well-argued essay.",
    "criteria": {
        "narrative": "Proficient or better on every row of the essay rubric.",
        "rule": {
            "type": "rubric",
            "assessment_id": "essay",
            "name": "Essay rubric",
            "criteria": [
                {"id": "argument", "name": "Argument", "levels": ESSAY_LEVELS, "required_level": "proficient"},
                {"id": "sources", "name": "Sources", "levels": ESSAY_LEVELS, "required_level": "proficient"},
            ],
        },
    },
}


async def test_a_rubric_graded_achievement_reaches_an_issued_badge_with_its_levels(flow: Flow) -> None:
    await flow.define(WRITING)
    await flow.send(
        flow.enrol("ana", "writing"),
        flow.activity(
            "ana",
            "scored",
            1,
            assessment_id="essay",
            score=6,
            max_score=10,
            rubric={"argument": "expert", "sources": "novice"},
        ),
    )
    assert flow.badges("ana") == []
    await flow.send(
        flow.activity(
            "ana", "submitted", 2, assessment_id="essay", rubric={"argument": "expert", "sources": "proficient"}
        )
    )
    [passed] = flow.passed("ana")
    [result] = passed.results
    assert result.kind is ResultKind.RUBRIC
    assert result.rubric == {"argument": "expert", "sources": "proficient"}
    assert (result.score, result.max_score, result.required_score) == (3 + 2, 3 + 3, 2 + 2)  # level points
    assert passed.passed_at.isoformat() == when(2)
    [badge] = flow.badges("ana")
    assert badge.credential["credentialSubject"]["achievement"]["name"] == "Academic Writing"
    attempts = await flow.admin("GET", "/learners/ana/attempts")
    assert [(a["attempt"], a["kind"], a["rubric"]["sources"]) for a in attempts] == [
        (1, "scored", "novice"),
        (2, "submitted", "proficient"),
    ]


async def test_failures_are_recorded_a_later_pass_awards_and_a_second_pass_does_not(flow: Flow) -> None:
    await flow.define(
        {
            "id": "lab-safety",
            "name": "Lab Safety",
            "description": "Works safely in the lab.",
            "criteria": {
                "narrative": "Passed the safety check with 80%.",
                "rule": {"type": "assessment", "assessment_id": "check", "min_score": 80, "require_success": True},
            },
        }
    )
    await flow.send(
        flow.enrol("ben", "lab-safety"),
        flow.activity("ben", "failed", 1, assessment_id="check", score=60, max_score=100),
        flow.activity("ben", "failed", 2, assessment_id="check", score=85, max_score=100),  # LMS says failed
        flow.activity("ben", "submitted", 3, assessment_id="check"),  # submitted, not graded yet
    )
    assert flow.badges("ben") == []
    await flow.send(flow.activity("ben", "passed", 4, assessment_id="check", score=90, max_score=100))
    [badge] = flow.badges("ben")
    await flow.send(flow.activity("ben", "passed", 5, assessment_id="check", score=100, max_score=100))
    assert flow.badges("ben") == [badge]
    attempts = await flow.admin("GET", "/learners/ben/attempts")
    assert [(a["attempt"], a["kind"], a["score"], a["success"]) for a in attempts] == [
        (1, "failed", 60, False),
        (2, "failed", 85, False),
        (3, "submitted", None, None),
        (4, "passed", 90, True),
        (5, "passed", 100, True),
    ]
    [award] = await flow.admin("GET", "/learners/ben/awards")
    assert (award["period"], award["award_id"]) == (0, str(badge.award_id))


async def test_renewal_awards_once_per_period_with_a_new_award_id(flow: Flow) -> None:
    await flow.define(
        {
            "id": "first-aid",
            "name": "First Aid",
            "description": "Gives first aid.",
            "renewal_period_days": 365,
            "criteria": {
                "narrative": "75% on the yearly exam.",
                "required_assessments": [{"assessment_id": "fa", "min_score": 75}],
            },
        }
    )
    await flow.send(flow.enrol("cai", "first-aid"), flow.score("cai", "fa", 80, 1))
    await flow.send(flow.score("cai", "fa", 95, days=100))  # too early to renew
    assert [p.award_period for p in flow.passed("cai")] == [0]
    await flow.send(flow.score("cai", "fa", 70, days=370))  # renewal open, but below the minimum
    assert [p.award_period for p in flow.passed("cai")] == [0]
    await flow.send(flow.score("cai", "fa", 90, days=380), flow.score("cai", "fa", 99, days=381))
    first, second = flow.passed("cai")
    assert (second.award_period, second.passed_at.isoformat()) == (1, when(days=380))
    assert second.award_id != first.award_id
    assert second.results[0].score == 90  # awarded on the first pass of the period; the 99 changes nothing
    assert len(flow.badges("cai", "first-aid")) == 2
    await flow.send(flow.score("cai", "fa", 90, days=380 + 366))
    assert [p.award_period for p in flow.passed("cai")] == [0, 1, 2]


async def test_a_late_definition_catches_up_on_every_renewal_period_the_evidence_supports(flow: Flow) -> None:
    await flow.send(
        flow.enrol("cat", "first-aid"),
        flow.score("cat", "fa", 80, 1),
        flow.score("cat", "fa", 90, days=200),
        flow.score("cat", "fa", 85, days=400),
        flow.score("cat", "fa", 95, days=500),
    )
    await flow.define(
        {
            "id": "first-aid",
            "name": "First Aid",
            "description": "Gives first aid.",
            "renewal_period_days": 365,
            "criteria": {"narrative": "75%.", "required_assessments": [{"assessment_id": "fa", "min_score": 75}]},
        }
    )
    assert [(p.award_period, p.passed_at.isoformat()) for p in flow.passed("cat")] == [
        (0, when(1)),
        (1, when(days=400)),
    ]


async def test_completions_and_windows(flow: Flow) -> None:
    await flow.define(
        {
            "id": "onboarding",
            "name": "Onboarding",
            "description": "Completed onboarding in November.",
            "criteria": {
                "narrative": "Watched the video and finished the lab during November 2026.",
                "rule": {
                    "type": "completed",
                    "activity_ids": ["video", "lab"],
                    "window": {"opens_at": when(), "closes_at": when(days=29)},
                },
            },
        }
    )
    await flow.send(
        flow.enrol("dee", "onboarding"),
        flow.enrol("eli", "onboarding"),
        flow.activity("dee", "completed", 1, assessment_id="video"),
        flow.activity("eli", "completed", 1, assessment_id="video"),
        flow.activity("eli", "completed", days=30, assessment_id="lab"),  # after the window closed
    )
    assert flow.badges() == []
    await flow.send(flow.activity("dee", "completed", 5, assessment_id="lab"))
    [passed] = flow.passed()
    assert passed.learner_id == "dee"
    assert [(r.assessment_id, r.kind) for r in passed.results] == [
        ("video", ResultKind.COMPLETION),
        ("lab", ResultKind.COMPLETION),
    ]


async def test_a_course_completion_names_the_achievement_and_enrols_the_learner(flow: Flow) -> None:
    await flow.define(
        {
            "id": "python-101",
            "name": "Python 101",
            "description": "Completed the course.",
            "criteria": {
                "narrative": "Course completed.",
                "rule": {"type": "completed", "activity_ids": ["python-101"]},
            },
        }
    )
    await flow.send(flow.activity("fay", "completed", 3, achievement_id="python-101", learner_name="Fay Li"))
    [passed] = flow.passed("fay")
    assert passed.learner_name == "Fay Li" and passed.achievement.id == "python-101"


async def test_overall_and_n_of_m_choices(flow: Flow) -> None:
    await flow.define(
        {
            "id": "data",
            "name": "Data Analyst",
            "description": "Analyses data.",
            "criteria": {
                "narrative": "70% overall on the exams and any two of three projects.",
                "rule": {
                    "type": "all_of",
                    "rules": [
                        {"type": "overall_score", "assessment_ids": ["exam-1", "exam-2"], "min_score": 70},
                        {
                            "type": "n_of",
                            "n": 2,
                            "rules": [
                                {"type": "assessment", "assessment_id": p, "min_score": 50} for p in ("p1", "p2", "p3")
                            ],
                        },
                    ],
                },
            },
        }
    )
    await flow.send(
        flow.enrol("gus", "data"),
        flow.score("gus", "exam-1", 60, 1),
        flow.score("gus", "exam-2", 90, 2),
        flow.score("gus", "p1", 40, 3),
        flow.score("gus", "p3", 70, 4),
    )
    assert flow.badges("gus") == []
    await flow.send(flow.score("gus", "p2", 55, 5))
    [passed] = flow.passed("gus")
    assert [(r.assessment_id, r.kind) for r in passed.results] == [
        ("overall-score", ResultKind.OVERALL_SCORE),
        ("p2", ResultKind.SCORE),
        ("p3", ResultKind.SCORE),
    ]


QUIZ_KEY = {
    "questions": [
        {"type": "single_choice", "question_id": "q1", "correct": "opt-b"},
        {"type": "multiple_choice", "question_id": "q2", "correct": ["x", "z"], "scoring": "partial", "points": 2},
        {"type": "numeric", "question_id": "q3", "correct": 42.4242, "tolerance": 0.01, "points": 2},
    ]
}
QUIZ = {
    "id": "quiz-master",
    "name": "Quiz Master",
    "description": "Knows the material.",
    "criteria": {
        "narrative": "80% on the quiz.",
        "rule": {"type": "assessment", "assessment_id": "quiz", "min_score": 80},
    },
}


async def test_built_in_grading_scores_raw_answers_and_the_key_never_leaves_the_service(flow: Flow) -> None:
    await flow.define(QUIZ)
    summary = await flow.admin("PUT", "/assessments/quiz/answer-key", json=QUIZ_KEY)
    assert summary["version"] == 1 and summary["max_score"] == 5
    assert summary["questions"][2] == {"question_id": "q3", "type": "numeric", "points": 2}
    answers_60 = [
        {"question_id": "q1", "response": "opt-b"},
        {"question_id": "q2", "response": ["x", "y"]},
        {"question_id": "q3", "response": 42.43},
    ]
    answers_100 = [*answers_60[:1], {"question_id": "q2", "response": ["z", "x"]}, answers_60[2]]
    await flow.send(
        flow.enrol("hal", "quiz-master"), flow.activity("hal", "submitted", 1, assessment_id="quiz", answers=answers_60)
    )
    assert flow.badges("hal") == []
    await flow.send(flow.activity("hal", "submitted", 2, assessment_id="quiz", answers=answers_100))
    [passed] = flow.passed("hal")
    assert (passed.results[0].score, passed.results[0].max_score) == (5, 5)
    attempts = await flow.admin("GET", "/learners/hal/attempts")
    assert [(a["score"], a["graded_with_answer_key_version"]) for a in attempts] == [(3, 1), (5, 1)]
    # The key's own value (42.4242) is in no record on any topic and in no API response.
    for topic in Topic:
        assert all(b"42.4242" not in r.value for r in flow.stack.bus.records(str(topic))), topic
    assert "42.4242" not in str(await flow.admin("GET", "/assessments/quiz/answer-key"))
    assert "opt-b" not in str(await flow.admin("GET", "/assessments/quiz/answer-key"))


async def test_answers_without_an_answer_key_are_dead_lettered_for_a_replay(flow: Flow) -> None:
    await flow.define(QUIZ)
    answers = [{"question_id": "q1", "response": "opt-b"}]
    await flow.send(
        flow.enrol("ida", "quiz-master"), flow.activity("ida", "submitted", 1, assessment_id="quiz", answers=answers)
    )
    [dead] = flow.dead_letters(Topic.ENROLLMENT)
    assert "no answer key" in dead["dlq_reason"] and dead["dlq_consumer"] == "assessment"
    assert await flow.admin("GET", "/learners/ida/attempts") == []  # nothing half-recorded
    # Once the key exists, the dead-lettered record replays into an award.
    await flow.admin("PUT", "/assessments/quiz/answer-key", json={"questions": [QUIZ_KEY["questions"][0]]})
    [record] = flow.stack.bus.records(f"{Topic.ENROLLMENT}.dlq")
    from shared.messaging.records import OutboundRecord

    await flow.stack.bus.publish([OutboundRecord(str(Topic.ENROLLMENT), record.key, record.value, record.headers)])
    await flow.stack.settle()
    assert len(flow.badges("ida")) == 1


async def test_an_lms_score_still_counts_when_answers_come_without_a_key(flow: Flow) -> None:
    await flow.define(QUIZ)
    answers = [{"question_id": "q1", "response": "opt-b"}]
    await flow.send(
        flow.enrol("jo", "quiz-master"),
        flow.activity("jo", "submitted", 1, assessment_id="quiz", answers=answers, score=9, max_score=10),
    )
    assert len(flow.badges("jo")) == 1 and flow.dead_letters(Topic.ENROLLMENT) == []


async def test_answer_key_admin_api(flow: Flow) -> None:
    client = flow.stack.http("assessment")
    assert (await client.put("/v1/tenants/acme/assessments/quiz/answer-key", json=QUIZ_KEY)).status_code == 401
    assert (await client.get("/v1/tenants/acme/assessments/quiz/answer-key")).status_code == 401
    await flow.admin("GET", "/assessments/quiz/answer-key", expect=404)
    await flow.admin("PUT", "/assessments/quiz/answer-key", json=QUIZ_KEY)
    assert (await flow.admin("PUT", "/assessments/quiz/answer-key", json=QUIZ_KEY))["version"] == 1  # unchanged
    changed = {"questions": QUIZ_KEY["questions"][:2]}
    assert (await flow.admin("PUT", "/assessments/quiz/answer-key", json=changed))["version"] == 2
    problem = await flow.admin("PUT", "/assessments/quiz/answer-key", json={"questions": []}, expect=422)
    assert problem["errors"][0]["pointer"] == "/questions"
    await flow.admin("DELETE", "/assessments/quiz/answer-key", expect=204)
    await flow.admin("DELETE", "/assessments/quiz/answer-key", expect=404)


async def test_scores_recorded_before_the_definition_count_once_it_arrives(flow: Flow) -> None:
    await flow.send(flow.enrol("kim", "quiz-master"), flow.score("kim", "quiz", 85, 1))
    assert flow.badges("kim") == []
    await flow.define(QUIZ)
    [passed] = flow.passed("kim")
    assert passed.passed_at == T0.replace(minute=1)
